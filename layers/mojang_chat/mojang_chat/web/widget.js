/*! mojang-chat widget: ask about Minecraft players from any web page.
 *
 *   <script src="https://API/widget.js" defer></script>
 *
 * Options (data-* attributes of the script tag):
 *   data-endpoint      base URL of the API; empty or absent: the folder this file was loaded
 *                      from (same origin); a relative URL is resolved against this file's URL
 *   data-mode          "runs" (default: a run of the Step Functions workflow, its statuses
 *                      polled live), "responses" (a background response, polled, the
 *                      conversation kept on the server) or "chat" (one POST /chat request)
 *   data-target        CSS selector of an element to render into; default: a chat button
 *                      in the corner of the page that opens a panel
 *   data-title         heading of the box
 *   data-assistant-id  the assistant_id sent when a run is created
 *   data-lang          the language of the widget's own words: "en" or "fr" (default: the
 *                      page's <html lang>, else English)
 *   data-strings       JSON object overriding any of those words (keys as in STRINGS.en)
 * Rendered in the open shadow root of one <mojang-chat> element: the page's CSS and the
 * widget's never meet; the page themes it with the --mcw-* custom properties.
 * Self-contained: no framework, no CDN, no build step.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var attr = function (name, fallback) { return script.getAttribute("data-" + name) || fallback; };
  // "" or "." is where widget.js came from (with an API Gateway stage's /prod prefix, if any).
  var endpoint = new URL(attr("endpoint", "."), new URL(script.src, location.href)).href
    .replace(/[?#].*$/, "").replace(/\/+$/, "");
  var mode = attr("mode", "runs");
  if (mode !== "chat" && mode !== "responses") mode = "runs";
  var assistantId = attr("assistant-id", "asst_default");
  // Polling starts at the SDK's 1 s and slows to 2.5 s while the status does not change; a run
  // is given up (and cancelled) a little after its expires_at (600 s when it has none).
  var POLL_MS = 1000, POLL_MAX_MS = 2500, EXPIRY_GRACE_MS = 5000, DEFAULT_EXPIRES_S = 600;
  // Filled in by the server that serves this file (http/chat.py), from the one definition of
  // each fact: the API's limits and the run statuses after which a run changes no more.
  var MAX_HISTORY = __MAX_HISTORY_TURNS__, MAX_CHARS = __MAX_MESSAGE_CHARS__;
  var TERMINAL = __TERMINAL_STATUSES__;
  // The widget's own words, per language; data-lang chooses, data-strings overrides any.
  var STRINGS = {
    en: {
      title: "Ask about Minecraft players", launcher: "Ask about players",
      conversation: "Conversation", status: "Status", question: "Your question", send: "Send",
      placeholder: "what is the id of the player username merrydith",
      empty: "Ask me about a Minecraft player, e.g. \u201cwhat is the id of the player username merrydith\u201d.",
      retry: "Retry", newConversation: "New conversation", close: "Close", noAnswer: "(no answer)",
      call: "Mojang API call", calls: "Mojang API calls",
      queued: "queued", in_progress: "in progress", requires_action: "calling the Mojang API",
      cancelling: "cancelling", cancelled: "cancelled", failed: "failed", completed: "completed",
      incomplete: "incomplete", expired: "expired"
    },
    fr: {
      title: "Questions sur les joueurs Minecraft", launcher: "Questions sur les joueurs",
      conversation: "Conversation", status: "\u00c9tat", question: "Votre question", send: "Envoyer",
      placeholder: "quel est l\u2019identifiant du joueur merrydith",
      empty: "Posez une question sur un joueur Minecraft, par exemple \u00ab quel est l\u2019identifiant du joueur merrydith \u00bb.",
      retry: "R\u00e9essayer", newConversation: "Nouvelle conversation", close: "Fermer",
      noAnswer: "(pas de r\u00e9ponse)", call: "appel \u00e0 l\u2019API Mojang", calls: "appels \u00e0 l\u2019API Mojang",
      queued: "en file", in_progress: "en cours", requires_action: "appel \u00e0 l\u2019API Mojang",
      cancelling: "annulation", cancelled: "annul\u00e9", failed: "\u00e9chec", completed: "termin\u00e9",
      incomplete: "incomplet", expired: "expir\u00e9"
    }
  };
  var lang = (attr("lang", "") || document.documentElement.lang || "en").toLowerCase().split("-")[0];
  var T = Object.assign({}, STRINGS.en, STRINGS[lang] || {});
  try {
    var overrides = JSON.parse(attr("strings", "{}"));
    Object.keys(overrides).forEach(function (key) {
      if (typeof overrides[key] === "string" && key in STRINGS.en) T[key] = overrides[key];
    });
  } catch (ignored) { /* not JSON: the language's own words stay */ }
  var LABELS = T;  // a status's label is its own key
  var title = attr("title", T.title);
  var uid = 0;
  // The conversation is kept in this browser, per API: a reload (or the next page of the
  // site) picks it up; "New conversation" forgets it. Storage may be off (private modes).
  var STORE_KEY = "mojang-chat:" + endpoint;
  var MAX_KEPT = 50;  // exchanges shown again after a reload
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY) || "null"); } catch (e) { return null; }
  }
  function store(value) {
    try {
      if (value) localStorage.setItem(STORE_KEY, JSON.stringify(value));
      else localStorage.removeItem(STORE_KEY);
    } catch (e) { /* full or off: the conversation still works, only not kept */ }
  }

  // These rules live in the widget's shadow root: they reach nothing of the page, and the
  // page's rules reach nothing inside. Only inheritance crosses the boundary, so the host
  // element resets every inherited property (the inner context's !important beats even the
  // page's !important on the host), except custom properties, which `all` leaves alone.
  // Theming: a page sets any of --mcw-accent, --mcw-bg, --mcw-fg, --mcw-muted, --mcw-user,
  // --mcw-bot, --mcw-font on the widget's container or an ancestor (:root); each has a
  // default here.
  var CSS = [
    ":host{all:initial!important;display:block!important}",
    ":host(.mcw-host-inline){height:100%!important}",
    ".mcw[hidden]{display:none}",
    ".mcw{font:15px/1.45 var(--mcw-font,system-ui,-apple-system,Segoe UI,Roboto,sans-serif);color:var(--mcw-fg,#1b1f23);",
    "background:var(--mcw-bg,#fff);border:1px solid #d0d7de;border-radius:12px;display:flex;",
    "flex-direction:column;box-sizing:border-box;max-width:100%;min-width:0;overflow:hidden}",
    ".mcw *,.mcw *::before,.mcw *::after{box-sizing:border-box}",
    ".mcw-panel{position:fixed;right:16px;bottom:84px;width:min(380px,calc(100vw - 16px));",
    "height:min(560px,calc(100vh - 110px));z-index:2147483000;box-shadow:0 8px 30px rgba(0,0,0,.2)}",
    ".mcw-inline{height:100%;min-height:380px}",
    ".mcw-head{margin:0;padding:10px 14px;background:var(--mcw-accent,#2d6a1f);color:#fff;font-size:16px;",
    "display:flex;justify-content:space-between;align-items:center;gap:8px}",
    ".mcw-log{flex:1;overflow-y:auto;overflow-x:hidden;padding:12px;display:flex;flex-direction:column;gap:8px}",
    ".mcw-msg{padding:8px 12px;border-radius:10px;max-width:90%;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".mcw-user{align-self:flex-end;background:var(--mcw-user,#ddf4d4)}",
    ".mcw-bot{align-self:flex-start;background:var(--mcw-bot,#f0f2f4)}",
    ".mcw-bot p{margin:0}.mcw-bot p+p{margin-top:.6em}.mcw-bot code{font-size:13px;background:#e1e4e8;border-radius:4px;padding:0 3px}",
    ".mcw-bot a{color:#0b5394}",
    ".mcw-empty{color:var(--mcw-muted,#57606a);margin:auto;text-align:center}",
    ".mcw-trail{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px;font-size:12px;color:var(--mcw-muted,#57606a)}",
    ".mcw-trail li{overflow-wrap:anywhere}",
    ".mcw-trail li+li::before{content:\"\\2192  \";}",
    ".mcw-trail li:last-child{color:var(--mcw-fg,#1b1f23);font-weight:600}",
    ".mcw-tools{font-size:12px;color:var(--mcw-muted,#57606a)}",
    ".mcw-tools summary{cursor:pointer}",
    ".mcw-tools code{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px}",
    ".mcw-error{align-self:stretch;background:#fff1f0;border:1px solid #f5c2c0;color:#8a1c1c;",
    "padding:8px 12px;border-radius:10px;display:flex;flex-wrap:wrap;gap:8px;align-items:center;overflow-wrap:anywhere}",
    ".mcw-form{display:flex;flex-wrap:wrap;gap:6px;padding:10px;border-top:1px solid #d0d7de}",
    ".mcw-form label{flex-basis:100%;font-size:12px;color:var(--mcw-muted,#57606a)}",
    ".mcw-form input{flex:1;min-width:0;font:inherit;padding:8px 10px;border:1px solid #8c959f;border-radius:8px}",
    ".mcw button{font:inherit;cursor:pointer;border-radius:8px;border:1px solid var(--mcw-accent,#2d6a1f);",
    "background:var(--mcw-accent,#2d6a1f);color:#fff;padding:8px 14px}",
    ".mcw button[disabled]{opacity:.6;cursor:progress}",
    ".mcw-error button{background:#fff;color:#8a1c1c;border-color:#8a1c1c;padding:4px 10px}",
    ".mcw-new{margin-left:auto;background:transparent!important;border:1px solid #fff!important;font-size:13px;padding:2px 8px!important}",
    ".mcw-close{background:transparent!important;border:0!important;font-size:20px;line-height:1;padding:2px 8px!important}",
    ".mcw :focus-visible,.mcw-launcher:focus-visible{outline:3px solid #0969da;outline-offset:2px}",
    ".mcw-launcher{position:fixed;right:16px;bottom:16px;z-index:2147483000;border-radius:28px;",
    "border:0;background:var(--mcw-accent,#2d6a1f);color:#fff;font:600 15px var(--mcw-font,system-ui,sans-serif);padding:14px 20px;",
    "cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}"
  ].join("");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A safe subset of markdown, built as DOM nodes (never HTML from the answer): paragraphs at
  // blank lines, **bold**, `code` and [links](https://...) that open with rel="noopener".
  var INLINE = /(\*\*([^*]+)\*\*|`([^`]+)`|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\))/;
  function inline(parent, text) {
    var found;
    while ((found = INLINE.exec(text))) {
      if (found.index) parent.appendChild(document.createTextNode(text.slice(0, found.index)));
      if (found[2]) parent.appendChild(el("strong", null, found[2]));
      else if (found[3]) parent.appendChild(el("code", null, found[3]));
      else {
        var link = el("a", null, found[4]);
        link.href = found[5];
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        parent.appendChild(link);
      }
      text = text.slice(found.index + found[0].length);
    }
    if (text) parent.appendChild(document.createTextNode(text));
  }
  function markdown(parent, text) {
    text.split(/\n\s*\n/).forEach(function (block) {
      if (!block.trim()) return;
      var paragraph = el("p");
      inline(paragraph, block.trim());
      parent.appendChild(paragraph);
    });
    return parent;
  }

  function ApiError(status, message, extra) {
    this.status = status;
    this.message = message;
    this.fallback = !!(extra && extra.fallback);
    this.refused = !!(extra && extra.refused);
    this.retryAfter = (extra && extra.retryAfter) || 0;  // seconds, from a 429's Retry-After
  }

  // At most MAX_CHARS code points (never half an emoji), without lone surrogates: the API
  // counts code points and refuses what is not valid Unicode.
  function clip(text) {
    return Array.from(String(text)).filter(function (c) { return !/^[\uD800-\uDFFF]$/.test(c); })
      .slice(0, MAX_CHARS).join("");
  }

  // Retry-After in seconds (a number or an HTTP date); 0 when absent or unreadable.
  function retryAfter(response) {
    var value = (response.headers.get("Retry-After") || "").trim();
    var seconds = /^\d+$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
    return seconds > 0 ? seconds : 0;
  }

  // A readable message for a failed response: what happened, and what to do.
  function httpError(response, data, path) {
    var detail = (data && data.error && data.error.message) || (data && data.message) || "";
    var status = response.status;
    var creates = path === "/v1/threads/runs" || path === "/v1/responses";
    // API Gateway's own 404 (no such route, no error object): this API has no runs API.
    if (status === 404 && creates && !(data && data.error)) {
      return new ApiError(404, "the runs API is not available", { fallback: true });
    }
    if (status === 429) {
      var wait = retryAfter(response);
      return new ApiError(429, "Too many requests. Try again in " + (Math.ceil(wait) || 5) + " s.",
        { retryAfter: wait });
    }
    if (status >= 500) {
      return new ApiError(status, "The server could not answer (" + status + ")" + (detail ? ": " + detail : "."));
    }
    // The API refused what was sent (too large, or a field it finds invalid): see Widget.run.
    // (A 404 from POST /v1/responses: the kept conversation is no longer on the server.)
    var refused = status === 413 || status === 422 || (creates && (status === 400 || status === 404));
    return new ApiError(status, detail || "The request failed (" + status + ").", { refused: refused });
  }

  function request(method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(endpoint + path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (ignored) { data = null; }
        if (!response.ok) throw httpError(response, data, path);
        return data;
      });
    }, function () {
      throw new ApiError(0, "Cannot reach the chat server. Check your connection, then retry.");
    });
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function describeCall(name, args) {
    var values = args && typeof args === "object" ? Object.keys(args).map(function (key) {
      return typeof args[key] === "string" ? args[key] : JSON.stringify(args[key]);
    }) : [];
    return name + "(" + values.join(", ") + ")";
  }

  function parseArgs(text) {
    try { return JSON.parse(text); } catch (ignored) { return null; }
  }

  function Widget(root) {
    var self = this;
    this.root = root;
    this.history = [];
    this.busy = false;
    root.appendChild(el("h2", "mcw-head", title));
    this.head = root.firstChild;
    // The one live region: screen readers read what is added to the log (the question, each
    // status, the answer or the error) once. No other region repeats it, and no aria-busy,
    // which would hold the statuses back until the answer.
    this.log = el("div", "mcw-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", T.conversation);
    this.log.tabIndex = 0;
    this.exchanges = [];
    var fresh = el("button", "mcw-new", T.newConversation);
    fresh.type = "button";
    fresh.addEventListener("click", function () { if (!self.busy) self.forget(); });
    this.head.appendChild(fresh);
    root.appendChild(this.log);
    this.restore(load());
    var form = el("form", "mcw-form");
    var id = "mcw-input-" + (++uid);
    var label = el("label", null, T.question);
    label.htmlFor = id;
    this.input = el("input");
    this.input.id = id;
    this.input.type = "text";
    this.input.maxLength = MAX_CHARS;
    this.input.autocomplete = "off";
    this.input.placeholder = T.placeholder;
    this.send = el("button", null, T.send);
    this.send.type = "submit";
    form.appendChild(label);
    form.appendChild(this.input);
    form.appendChild(this.send);
    root.appendChild(form);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (!text || self.busy) return;
      self.input.value = "";
      self.ask(text);
    });
  }

  Widget.prototype.empty = function () {
    this.log.appendChild(el("p", "mcw-empty", T.empty));
  };

  // What was kept: each exchange shown again (without its trail), the history sent again.
  Widget.prototype.restore = function (saved) {
    var self = this;
    var valid = function (x) { return x && typeof x.q === "string" && typeof x.a === "string"; };
    var kept = saved && Array.isArray(saved.exchanges) ? saved.exchanges.filter(valid) : [];
    // The server's conversation (responses mode), when one was started.
    this.conversation = saved && typeof saved.conversation === "string" ? saved.conversation : null;
    if (!kept.length) return this.empty();
    kept.forEach(function (x) {
      self.log.appendChild(el("div", "mcw-msg mcw-user", x.q));
      var turn = el("div", "mcw-turn");
      turn.appendChild(markdown(el("div", "mcw-msg mcw-bot"), x.a));
      self.log.appendChild(turn);
      self.remember(x.q, x.a);
    });
    this.exchanges = kept;
  };

  Widget.prototype.keep = function (question, answer) {
    this.exchanges = this.exchanges.concat([{ q: question, a: answer }]).slice(-MAX_KEPT);
    this.save();
  };

  Widget.prototype.save = function () {
    store({ exchanges: this.exchanges, conversation: this.conversation });
  };

  Widget.prototype.forget = function () {
    this.history = [];
    this.exchanges = [];
    this.conversation = null;
    store(null);
    this.log.textContent = "";
    this.empty();
    this.input.focus();
  };

  Widget.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.send.disabled = busy;
    this.log.querySelectorAll(".mcw-error button").forEach(function (b) { b.disabled = busy; });
  };

  // Keep a finished exchange as history: the newest MAX_HISTORY turns, each at most MAX_CHARS
  // code points, never a blank one (the API refuses those and then every later question).
  Widget.prototype.remember = function (question, answer) {
    question = clip(question).trim();
    answer = clip(answer).trim();
    if (!question || !answer) return;
    this.history = this.history.concat([{ role: "user", content: question }, { role: "assistant", content: answer }])
      .slice(-MAX_HISTORY);
  };

  Widget.prototype.scroll = function () { this.log.scrollTop = this.log.scrollHeight; };

  // Ask one question; the returned turn keeps the question, so Retry resends it unchanged.
  Widget.prototype.ask = function (text) {
    var empty = this.log.querySelector(".mcw-empty");
    if (empty) empty.remove();
    this.log.appendChild(el("div", "mcw-msg mcw-user", text));
    var turn = el("div", "mcw-turn");
    this.log.appendChild(turn);
    this.run(text, turn);
  };

  Widget.prototype.run = function (text, turn) {
    var self = this;
    turn.textContent = "";
    var trail = el("ol", "mcw-trail");
    trail.setAttribute("aria-label", T.status);
    turn.appendChild(trail);
    var state = { trail: trail, turn: turn, tools: null, last: null };
    this.setBusy(true);
    var asked = mode === "runs" ? this.viaRuns(text, state)
      : mode === "responses" ? this.viaResponses(text, state) : this.viaChat(text, state);
    return asked.then(function (answer) {
      answer = answer == null ? "" : String(answer);
      self.remember(text, answer);
      if (answer.trim()) self.keep(text, answer);
      var reply = answer.trim() ? markdown(el("div", "mcw-msg mcw-bot"), answer) : el("div", "mcw-msg mcw-bot", T.noAnswer);
      turn.appendChild(reply);
      // Keyboard and screen-reader users land on the answer (links in it are next to Tab);
      // only when the focus is in the widget, never taken from elsewhere on the page.
      if (self.root.contains(self.root.getRootNode().activeElement)) {
        reply.tabIndex = -1;
        reply.focus();
      }
    }, function (error) {
      if (error && error.fallback && mode !== "chat") {
        mode = "chat";  // this API has no runs or responses routes: answer through /chat
        return self.run(text, turn);
      }
      var message = (error && error.message) || String(error);
      if (error && error.refused && (self.history.length || self.conversation)) {
        // The API refused the conversation as sent (too large, a turn it finds invalid, or
        // gone from the server): forget it, keep the log on screen, and go on from here.
        self.history = [];
        if (self.conversation) {
          self.conversation = null;
          self.save();
        }
        message += " The earlier conversation could not be sent, so it was cleared: Retry asks this question on its own.";
      }
      // No role="alert": the log is already a live region and reads the error once.
      var box = el("div", "mcw-error");
      box.appendChild(el("span", null, message));
      var retry = el("button", null, T.retry);
      retry.type = "button";
      retry.addEventListener("click", function () {
        if (self.busy) return;  // a question is in flight: one at a time
        box.remove();
        self.run(text, turn).then(function () { self.input.focus(); });
      });
      box.appendChild(retry);
      turn.appendChild(box);
    }).then(function () {
      self.setBusy(false);
      self.scroll();
    });
  };

  Widget.prototype.status = function (state, status, calls) {
    if (state.last === status && status !== "requires_action") return;
    state.last = status;
    var label = LABELS[status] || status;
    if (status === "requires_action" && calls && calls.length) {
      label += ": " + calls.map(function (c) { return describeCall(c.name, c.arguments); }).join(", ");
    }
    var item = el("li", null, label);
    item.setAttribute("data-status", status);
    state.trail.appendChild(item);
    this.scroll();
  };

  // The tool-call list: each call once (by its id, when it has one), its output added when
  // it comes (a poll may see a call before its output).
  Widget.prototype.showTools = function (state, calls) {
    if (!calls.length) return;
    if (!state.tools) {
      state.tools = el("details", "mcw-tools");
      state.tools.appendChild(el("summary"));
      state.tools.appendChild(el("ul"));
      state.turn.insertBefore(state.tools, state.trail.nextSibling);
      state.toolItems = {};
    }
    var list = state.tools.lastChild;
    calls.forEach(function (call) {
      var item = call.id && state.toolItems[call.id];
      if (!item) {
        item = el("li");
        item.appendChild(el("code", null, call.name + "(" + JSON.stringify(call.arguments) + ")"));
        list.appendChild(item);
        if (call.id) state.toolItems[call.id] = item;
      }
      if (call.output !== undefined && item.childNodes.length === 1) {
        item.appendChild(document.createTextNode(" \u2192 "));
        item.appendChild(el("code", null, JSON.stringify(call.output)));
      }
    });
    var count = list.children.length;
    state.tools.firstChild.textContent = count + " " + (count === 1 ? T.call : T.calls);
  };

  Widget.prototype.viaChat = function (text, state) {
    var self = this;
    this.status(state, "queued");
    return request("POST", "/chat", { message: text, history: this.history }).then(function (data) {
      var calls = data.tool_calls || [];
      state.trail.textContent = "";
      state.last = null;
      var shown = false;
      (data.statuses || []).forEach(function (status) {
        // The response does not say which round made which call: show them at the first.
        self.status(state, status, status === "requires_action" && !shown ? calls : null);
        if (status === "requires_action") shown = true;
      });
      self.showTools(state, calls);
      return data.answer;
    });
  };

  // Follow a run or a background response from its creation until it ends: poll it (1 s,
  // slowing to 2.5 s while its status does not change; a 429 waits for its Retry-After), show
  // what it did (job.show), and give up (and cancel it) a little after it expires, or after
  // three failed polls in a row. job.path: its URL; job.finish: its answer, once it has ended.
  Widget.prototype.follow = function (created, asked, job) {
    var delay = POLL_MS, failures = 0;
    // Its own lifetime, timed on this page's clock (the server's may differ from it).
    var life = created.expires_at && created.created_at ? created.expires_at - created.created_at : DEFAULT_EXPIRES_S;
    var giveUpAt = asked + life * 1000 + EXPIRY_GRACE_MS;
    // Stop waiting, and cancel it so that it stops spending tokens (best effort).
    function giveUp(current, error) {
      request("POST", job.path(current) + "/cancel").catch(function () {});
      throw error;
    }
    // wait: how long to wait before the next poll (a 429's Retry-After), else the back-off.
    function poll(current, previous, wait) {
      return Promise.resolve(job.show(current, previous)).then(function () {
        return next(current, previous, wait);
      });
    }
    function next(current, previous, wait) {
      if (TERMINAL.indexOf(current.status) >= 0) return job.finish(current);
      if (current.status !== previous) delay = POLL_MS;  // it moves on: look again soon
      wait = wait || delay;
      if (Date.now() + wait > giveUpAt) {
        return giveUp(current, new ApiError(504, "No answer before the run expired, so it was cancelled. Please retry."));
      }
      return sleep(wait).then(function () {
        delay = Math.min(delay * 1.25, POLL_MAX_MS);
        return request("GET", job.path(current)).then(function (polled) {
          failures = 0;
          return poll(polled, current.status);
        }, function (error) {
          // Throttled: wait as long as the server asks, and it is not a failure.
          if (error.status === 429) return poll(current, current.status, error.retryAfter * 1000);
          // A poll that fails now and then does not end it: give up after three in a row.
          if (++failures >= 3) return giveUp(current, error);
          return poll(current, current.status);
        });
      });
    }
    return poll(created);
  };

  // The Mojang API calls of one round of the model: the trail's "calling the Mojang API" line
  // (after "in progress"), the tool-call list, and "in progress" again once they have all
  // been answered (their outputs went back to the model).
  Widget.prototype.round = function (state, calls, answered) {
    if (state.last === "queued") this.status(state, "in_progress");
    this.status(state, "requires_action", calls);
    this.showTools(state, calls);
    if (answered) this.status(state, "in_progress");
  };

  Widget.prototype.viaRuns = function (text, state) {
    var self = this;
    var messages = this.history.concat([{ role: "user", content: text }]);
    var body = { assistant_id: assistantId, thread: { messages: messages } };
    var asked = Date.now(), seenSteps = {};  // step id: whether it was seen completed
    function path(run) {
      return "/v1/threads/" + encodeURIComponent(run.thread_id) + "/runs/" + encodeURIComponent(run.id);
    }
    // The run's tool calls, from its steps (kept after the run ends, so a run that finished
    // before the first poll still shows them), each step once; then the run's status.
    function show(run, previous) {
      var terminal = TERMINAL.indexOf(run.status) >= 0;
      if (run.status === previous && !terminal) return null;
      if (run.status === "queued" && !previous) return self.status(state, run.status);
      return request("GET", path(run) + "/steps?order=asc&limit=100").then(function (list) {
        (list.data || []).forEach(function (step) {
          if (step.type !== "tool_calls" || seenSteps[step.id]) return;
          var done = step.status === "completed";
          var calls = step.step_details.tool_calls.map(function (c) {
            var output = c.function.output;
            return {
              id: c.id,
              name: c.function.name,
              arguments: parseArgs(c.function.arguments),
              output: output == null ? undefined : parseArgs(output)
            };
          });
          if (step.id in seenSteps) {  // seen before its outputs were in: now they are
            self.showTools(state, calls);
            if (done) self.status(state, "in_progress");
          } else {
            self.round(state, calls, done);
          }
          seenSteps[step.id] = done;
        });
      }, function () {}).then(function () { self.status(state, run.status); });
    }
    function finish(run) {
      if (run.status !== "completed" && run.status !== "incomplete") {
        var why = run.last_error && run.last_error.message;
        throw new ApiError(500, "The run ended as " + (LABELS[run.status] || run.status) + (why ? ": " + why : "."));
      }
      var list = "/v1/threads/" + encodeURIComponent(run.thread_id) + "/messages?order=desc&limit=1";
      return request("GET", list).then(function (listed) {
        var message = (listed.data || []).filter(function (m) { return m.role === "assistant"; })[0];
        var parts = message ? message.content.filter(function (p) { return p.type === "text"; }) : [];
        return parts.map(function (p) { return p.text.value; }).join("\n");
      });
    }
    return request("POST", "/v1/threads/runs", body).then(function (run) {
      return self.follow(run, asked, { path: path, show: show, finish: finish });
    });
  };

  // A background response (POST /v1/responses), polled. The conversation goes on on the
  // server: its id is kept with the exchanges; without one, the kept exchanges are sent as
  // the input's first messages and the response starts a conversation.
  Widget.prototype.viaResponses = function (text, state) {
    var self = this;
    var asked = Date.now(), seen = {}, unanswered = {};
    var body = { input: text, background: true };
    if (this.conversation) body.conversation = this.conversation;
    else if (this.history.length) body.input = this.history.concat([{ role: "user", content: text }]);
    function path(response) { return "/v1/responses/" + encodeURIComponent(response.id); }
    function call(item) {
      return {
        id: item.id,
        name: item.name,
        arguments: parseArgs(item.arguments),
        output: item.output == null ? undefined : parseArgs(item.output)
      };
    }
    // The server's tool calls are the output's mcp_call items of server "mojang", each shown
    // once. The output does not say which round made which call: each run of consecutive
    // calls shows as one round (a round answered by the model with text ends a run).
    function show(response, previous) {
      if (response.status === "queued" && !previous) return self.status(state, response.status);
      var mojang = (response.output || []).filter(function (item) {
        return item.type === "mcp_call" && item.server_label === "mojang";
      });
      // Calls shown before their outputs were in: the outputs now, and once all are in, the
      // model has them.
      var waited = Object.keys(unanswered).length;
      mojang.forEach(function (item) {
        if (!unanswered[item.id] || item.status !== "completed") return;
        delete unanswered[item.id];
        self.showTools(state, [call(item)]);
      });
      if (waited && !Object.keys(unanswered).length) self.status(state, "in_progress");
      var calls = [], answered = true;
      function flush() {
        if (calls.length) self.round(state, calls, answered);
        calls = [];
        answered = true;
      }
      (response.output || []).forEach(function (item) {
        if (mojang.indexOf(item) < 0) return flush();
        if (seen[item.id]) return;
        seen[item.id] = true;
        if (item.status !== "completed") unanswered[item.id] = true;
        calls.push(call(item));
        answered = answered && item.status === "completed";
      });
      flush();
      return self.status(state, response.status);
    }
    function finish(response) {
      if (response.status !== "completed" && response.status !== "incomplete") {
        var why = response.error && response.error.message;
        throw new ApiError(500, "The response ended as " + (LABELS[response.status] || response.status) + (why ? ": " + why : "."));
      }
      var messages = (response.output || []).filter(function (item) {
        return item.type === "message" && item.role === "assistant";
      });
      var parts = messages.length ? messages[messages.length - 1].content : [];
      return parts.filter(function (p) { return p.type === "output_text"; })
        .map(function (p) { return p.text; }).join("\n");
    }
    return request("POST", "/v1/responses", body).then(function (response) {
      var conversation = response.conversation && response.conversation.id;
      if (conversation && conversation !== self.conversation) {
        self.conversation = conversation;
        self.save();
      }
      return self.follow(response, asked, { path: path, show: show, finish: finish });
    });
  };

  // The widget lives in an open shadow root of its own element (<mojang-chat>), in the
  // target or, by default, at the end of the page.
  function mount() {
    var host = document.createElement("mojang-chat");
    var shadow = host.attachShadow({ mode: "open" });
    shadow.appendChild(el("style", null, CSS));
    var root = el("section", "mcw");
    root.setAttribute("aria-label", title);
    shadow.appendChild(root);
    var target = attr("target", "") && document.querySelector(attr("target", ""));
    if (target) {
      host.className = "mcw-host-inline";
      root.classList.add("mcw-inline");
      target.appendChild(host);
      return new Widget(root);
    }
    root.classList.add("mcw-panel");
    root.id = "mcw-panel-" + (++uid);
    root.hidden = true;
    var launcher = el("button", "mcw-launcher", T.launcher);
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", root.id);
    shadow.appendChild(launcher);
    document.body.appendChild(host);
    var widget = new Widget(root);
    var close = el("button", "mcw-close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", T.close);
    widget.head.appendChild(close);
    function toggle(open) {
      root.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      (open ? widget.input : launcher).focus();
    }
    launcher.addEventListener("click", function () { toggle(root.hidden); });
    close.addEventListener("click", function () { toggle(false); });
    root.addEventListener("keydown", function (event) { if (event.key === "Escape") toggle(false); });
    return widget;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
