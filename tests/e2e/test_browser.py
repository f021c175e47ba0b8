"""The demo page in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright through its executable path) against the local server, backed by the fake model
and fake Mojang servers. Screenshots go to test-artifacts/ (and to docs/demo.png when
UPDATE_SCREENSHOT=1)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.local.server import LocalServer, running
from mojang_chat.local.standins import JEB_UUID, MERRYDITH_UUID
from tests.fakes import model_server as fake_model
from tests.fakes.mojang_server import Fault
from tests.helpers import ROOT, TEMPLATE, TUTORIAL, TUTORIAL_STATUSES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ARTIFACTS = ROOT / "test-artifacts"
# The flags this machine's documentation gives for Chromium in a sandbox with a closed
# network: without the background-networking ones, Chromium keeps dialling Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ANSWER_TIMEOUT_MS = 30_000
# The focused element, through the shadow roots it is in (document.activeElement is their host).
ACTIVE_ELEMENT = """() => {
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) {
    active = active.shadowRoot.activeElement;
  }
  return active;
}"""
JEB = "and what is the uuid of jeb_?"
# GET /v1/threads/{thread_id}/runs/{run_id}: a poll (not .../cancel)
POLL = re.compile(r"/v1/threads/[^/]+/runs/[^/?]+$")
CANCEL = re.compile(r"/v1/threads/[^/]+/runs/[^/]+/cancel$")


def chromium_executable() -> str:
    """Debian's chromium: installed here if missing and allowed (root, apt-get), else skip."""
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "update", "-qq"], check=True, env=env, timeout=600)  # noqa: S603
        subprocess.run(  # noqa: S603 - fixed arguments
            [apt, "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900
        )
        found = shutil.which("chromium")
    if not found:
        pytest.skip("no chromium: install Debian's chromium package (make browser does)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_executable()
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    # No retries inside the model adapter: a scripted 503 reaches the page at once.
    monkeypatch.setenv("MODEL_MAX_RETRIES", "0")
    with running(TEMPLATE) as local:
        yield local


class Page:
    """A browser tab on the demo page, recording console errors."""

    def __init__(
        self,
        browser: Any,
        url: str,
        width: int = 1000,
        height: int = 860,
        before: Callable[[Any], None] | None = None,
    ) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        if before:
            before(self.page)  # e.g. routes that must be in place before the page loads
        self.page.goto(url)
        self.input = self.page.get_by_label("Your question")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def script_errors(self) -> list[str]:
        """The errors, less Chromium's line for each response with an error status."""
        return [e for e in self.errors if not e.startswith("Failed to load resource")]

    def ask(self, question: str) -> None:
        self.input.fill(question)
        self.input.press("Enter")

    def wait_for_answer(self, containing: str, index: int = 0) -> str:
        answer = self.page.locator(".mcw-bot").nth(index)
        answer.filter(has_text=containing).wait_for(timeout=ANSWER_TIMEOUT_MS)
        return str(answer.inner_text())

    def trail(self, index: int = -1) -> list[str]:
        trails = self.page.locator(".mcw-trail")
        turn = trails.nth(index if index >= 0 else trails.count() + index)
        statuses: list[str] = turn.locator("li").evaluate_all(
            "items => items.map(item => item.dataset.status)"
        )
        return statuses

    def assert_one_lookup_shown(self) -> None:
        """The answer's trail names the tutorial's lookup, and its tool line shows the call
        with its output (even when a poll saw the call before the output)."""
        trail_text = self.page.locator(".mcw-trail").inner_text()
        assert "calling the Mojang API: get_uuid_from_username(merrydith)" in trail_text
        tools = self.page.locator(".mcw-tools")
        assert tools.locator("summary").inner_text() == "1 Mojang API call"
        tools.locator("summary").click()
        assert '"found":true' in tools.inner_text().replace(" ", "")

    def posts(self, path: str) -> list[Any]:
        """The JSON bodies of the page's POSTs to ``path`` from now on (the list fills up)."""
        bodies: list[Any] = []

        def record(request: Any) -> None:
            if request.method == "POST" and request.url.endswith(path):
                bodies.append(request.post_data_json)

        self.page.on("request", record)
        return bodies

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def open_(url: str, **options: Any) -> Page:
        page = Page(browser, url, **options)
        pages.append(page)
        return page

    yield open_
    for page in pages:
        page.close()


def test_tutorial_question_in_chat_mode(server: LocalServer, open_page: Any) -> None:
    # Given the demo page, asking through POST /chat
    page = open_page(f"{server.url}/?mode=chat")
    # When the tutorial question is typed and Enter pressed
    page.ask(TUTORIAL)
    # Then the answer names merrydith's UUID, after the whole status trail
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.trail() == TUTORIAL_STATUSES
    trail_text = page.page.locator(".mcw-trail").inner_text()
    assert "calling the Mojang API: get_uuid_from_username(merrydith)" in trail_text
    # And the tool call opens to show what the Mojang API answered
    details = page.page.locator(".mcw-tools")
    assert details.locator("summary").inner_text() == "1 Mojang API call"
    details.locator("summary").click()
    assert details.get_attribute("open") is not None
    assert '"found":true' in details.inner_text().replace(" ", "")
    # And a follow-up question sends the history along
    page.ask("and what is the uuid of jeb_?")
    page.wait_for_answer("853c80ef", index=1)
    assert page.errors == []
    shot = page.screenshot("demo.png")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "demo.png")


@pytest.mark.parametrize(
    ("mode", "path"), [("runs", "**/v1/threads/runs"), ("responses", "**/v1/responses")]
)
def test_runs_and_responses_modes_fall_back_to_chat_without_a_v1_api(
    server: LocalServer, open_page: Any, mode: str, path: str
) -> None:
    page = open_page(f"{server.url}/?mode={mode}")
    # Given an API that has no such routes
    page.page.route(
        path,
        lambda route: route.fulfill(
            status=404, content_type="application/json", body='{"message":"Not Found"}'
        ),
    )
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.trail() == TUTORIAL_STATUSES


def test_tutorial_question_in_runs_mode(
    server: LocalServer, open_page: Any, mojang_server: Any
) -> None:
    # Given a Mojang API slow enough that every status outlasts a poll (polling sees only
    # the statuses that last until the next poll)
    mojang_server.inject(Fault.hanging(1.5))
    page = open_page(f"{server.url}/?mode=runs")
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    trail = page.trail()
    assert trail[0] == "queued"
    assert "requires_action" in trail
    assert trail[-1] == "completed"
    assert set(trail) <= set(TUTORIAL_STATUSES)
    page.assert_one_lookup_shown()
    assert page.errors == []
    page.screenshot("demo-runs.png")


def test_errors_are_readable_and_retry_resends(
    server: LocalServer, open_page: Any, model_server: Any
) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    # Given a model server that is overloaded once
    model_server.script(fake_model.overloaded())
    page.ask(TUTORIAL)
    alert = page.page.locator(".mcw-error")
    alert.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert (
        f"The server could not answer (503): the model server at {model_server.base_url} is "
        "overloaded" in alert.inner_text()
    )
    # When Retry is pressed, the same question goes again and is answered
    alert.get_by_role("button", name="Retry").click()
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.page.locator(".mcw-error").count() == 0
    assert page.page.locator(".mcw-user").all_inner_texts() == [TUTORIAL]

    # Given API Gateway throttling the next request
    page.page.route(
        "**/chat",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "7", "Access-Control-Expose-Headers": "Retry-After"},
            content_type="application/json",
            body='{"message":"Too Many Requests"}',
        ),
        times=1,
    )
    page.ask("who is jeb_?")
    page.page.locator(".mcw-error").wait_for()
    assert "Too many requests. Try again in 7 s." in page.page.locator(".mcw-error").inner_text()
    # And the network down for the one after
    page.page.locator(".mcw-error button").click()
    page.wait_for_answer("853c80ef", index=1)
    page.page.route("**/chat", lambda route: route.abort("internetdisconnected"), times=1)
    page.ask("who is Notch?")
    page.page.locator(".mcw-error").wait_for()
    assert "Cannot reach the chat server" in page.page.locator(".mcw-error").inner_text()
    page.screenshot("demo-errors.png")


def test_phone_width_has_no_horizontal_scroll(server: LocalServer, open_page: Any) -> None:
    page = open_page(f"{server.url}/?mode=chat", width=360, height=740)
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    page.page.locator(".mcw-tools summary").click()
    widths = page.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] == 360
    page.screenshot("demo-phone.png")


def test_keyboard_only(server: LocalServer, open_page: Any) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    # Tab through the page until the question field has the focus
    for _ in range(10):
        page.page.keyboard.press("Tab")
        if page.page.evaluate_handle(ACTIVE_ELEMENT).get_property("id").json_value() == (
            page.input.get_attribute("id")
        ):
            break
    else:
        pytest.fail("Tab never reached the question field")
    page.page.keyboard.type(TUTORIAL)
    page.page.keyboard.press("Enter")
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    # The focus moves to the new answer
    focused = page.page.evaluate_handle(ACTIVE_ELEMENT).get_property("className").json_value()
    assert focused == "mcw-msg mcw-bot"
    # The answer is announced to screen readers once: by the log, the widget's one live region
    log = page.page.locator(".mcw-log")
    assert log.get_attribute("role") == "log"
    assert log.get_attribute("aria-live") == "polite"
    assert log.get_attribute("aria-busy") is None
    assert MERRYDITH_UUID in log.inner_text()
    live = "[aria-live], [role=status], [role=alert], [role=log]"
    assert page.page.locator(f"#chat {live}, body > {live}").count() == 1
    assert page.errors == []


@pytest.mark.parametrize("mode", ["runs", "responses"])
def test_without_a_model_the_page_says_what_to_set(open_page: Any, mode: str) -> None:
    # Given the local server with no model configured at all
    with running(TEMPLATE) as local:
        page = open_page(f"{local.url}/?mode={mode}")
        # Then the banner says what to set
        banner = page.page.locator(".banner")
        assert "OPENAI_API_KEY" in banner.inner_text()
        # And asking anyway answers with the same advice, not a stack trace
        page.ask(TUTORIAL)
        alert = page.page.locator(".mcw-error")
        alert.wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert "OPENAI_API_KEY" in alert.inner_text()
        assert "Traceback" not in alert.inner_text()
        page.screenshot("demo-no-model.png")


def test_an_emoji_answer_never_breaks_the_conversation(
    server: LocalServer, open_page: Any, model_server: Any
) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    sent = page.posts("/chat")
    # Given an answer of 2,101 code points, mostly emoji (two UTF-16 units each)
    emoji = "a" + "\N{GRINNING FACE}" * 2100
    model_server.script(fake_model.answer(emoji))
    page.ask(TUTORIAL)
    page.wait_for_answer("a\N{GRINNING FACE}")
    # When a follow-up is asked, it goes with the answer cut at 2,000 code points, no half emoji
    page.ask(JEB)
    assert JEB_UUID in page.wait_for_answer(JEB_UUID, index=1)
    assert sent[1]["history"] == [
        {"role": "user", "content": TUTORIAL},
        {"role": "assistant", "content": emoji[:2000]},
    ]
    # And when the API refuses the conversation anyway (422), it is cleared, the log is kept,
    # and Retry asks the question on its own
    page.page.route(
        "**/chat",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body='{"error":{"message":"history.1.content: invalid"}}',
        ),
        times=1,
    )
    page.ask(JEB)
    alert = page.page.locator(".mcw-error")
    alert.wait_for()
    assert "history.1.content: invalid" in alert.inner_text()
    assert "conversation could not be sent, so it was cleared" in alert.inner_text()
    alert.get_by_role("button", name="Retry").click()
    assert JEB_UUID in page.wait_for_answer(JEB_UUID, index=2)
    assert sent[-1]["history"] == []
    assert page.page.locator(".mcw-user").count() == 3
    assert page.script_errors() == []


def test_retry_does_nothing_while_a_question_is_in_flight(
    server: LocalServer, open_page: Any, model_server: Any
) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    sent = page.posts("/chat")
    # Given a failed question, its Retry button on screen
    model_server.script(fake_model.overloaded())
    page.ask(TUTORIAL)
    retry = page.page.locator(".mcw-error").get_by_role("button", name="Retry")
    retry.wait_for(timeout=ANSWER_TIMEOUT_MS)
    # When another question is in flight (a slow model)
    model_server.script(fake_model.hang(1.5))
    page.ask(JEB)
    page.page.locator(".mcw-form button[disabled]").wait_for()
    # Then Retry is disabled, and even a click that gets through resends nothing
    assert retry.is_disabled()
    retry.evaluate("button => { button.disabled = false; button.click(); }")
    assert JEB_UUID in page.wait_for_answer(JEB_UUID)
    assert [body["message"] for body in sent] == [TUTORIAL, JEB]
    assert page.page.locator(".mcw-error").count() == 1
    # And once the answer is in, Retry works again
    retry.click()
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID, index=0)
    assert [body["message"] for body in sent] == [TUTORIAL, JEB, TUTORIAL]


def test_a_throttled_poll_waits_for_retry_after(server: LocalServer, open_page: Any) -> None:
    page = open_page(f"{server.url}/?mode=runs")
    polls: list[float] = []
    page.page.on(
        "request",
        lambda request: polls.append(time.monotonic()) if POLL.search(request.url) else None,
    )
    # Given three polls in a row throttled with Retry-After: 2 (three failures would end a run)
    page.page.route(
        POLL,
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "2"},
            content_type="application/json",
            body='{"message":"Too Many Requests"}',
        ),
        times=3,
    )
    page.ask(TUTORIAL)
    # Then the run is still followed to its answer, each retry after the time asked for
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.page.locator(".mcw-error").count() == 0
    gaps = [later - earlier for earlier, later in pairwise(polls[:4])]
    assert len(gaps) == 3
    assert min(gaps) >= 1.9, gaps
    assert page.script_errors() == []


def test_a_run_past_its_expiry_is_given_up_and_cancelled(
    server: LocalServer, open_page: Any, model_server: Any
) -> None:
    page = open_page(f"{server.url}/?mode=runs")
    created: dict[str, Any] = {}

    def create(route: Any) -> None:
        # Given a run that expires one second after it is created (as the page is told)
        response = route.fetch()
        created.update(response.json())
        created["expires_at"] = created["created_at"] + 1
        route.fulfill(response=response, json=created)

    page.page.route("**/v1/threads/runs", create)
    # And a model that takes longer than that
    model_server.script(fake_model.hang(15))
    with page.page.expect_response(CANCEL, timeout=ANSWER_TIMEOUT_MS) as cancel:
        page.ask(TUTORIAL)
        alert = page.page.locator(".mcw-error")
        alert.wait_for(timeout=ANSWER_TIMEOUT_MS)
    # Then the widget gives up soon after expires_at, cancels the run, and says so
    assert "No answer before the run expired, so it was cancelled" in alert.inner_text()
    assert f"/v1/threads/{created['thread_id']}/runs/{created['id']}/cancel" in cancel.value.url
    assert cancel.value.request.method == "POST"
    assert cancel.value.status == 200
    assert cancel.value.json()["status"] == "cancelling"


@pytest.mark.parametrize("endpoint", ["", "/", None])
def test_the_demo_needs_no_absolute_endpoint(
    server: LocalServer, open_page: Any, endpoint: str | None
) -> None:
    def rewrite(page: Any) -> None:
        # The demo page with data-endpoint empty, relative, or left out
        def serve(route: Any) -> None:
            response = route.fetch()
            attribute = "" if endpoint is None else f'data-endpoint="{endpoint}"'
            body = re.sub(r'data-endpoint="[^"]*"', attribute, response.text())
            route.fulfill(response=response, body=body)

        page.route(f"{server.url}/?mode=chat", serve)

    page = open_page(f"{server.url}/?mode=chat", before=rewrite)
    tag = page.page.locator("script[data-target]")
    assert tag.get_attribute("data-endpoint") == endpoint
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.errors == []


def test_runs_mode_shows_the_whole_trail_even_when_the_run_ends_before_the_first_poll(
    server: LocalServer, open_page: Any
) -> None:
    # Given the fast stand-ins: the run is over before the widget's first poll (1 s)
    page = open_page(f"{server.url}/?mode=runs")
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    # Then the trail is every status the run went through, read from its steps
    assert page.trail() == TUTORIAL_STATUSES
    page.assert_one_lookup_shown()
    assert page.errors == []


def test_answers_are_rendered_as_safe_markdown(
    server: LocalServer, open_page: Any, model_server: Any
) -> None:
    # Given an answer with markdown, a link, a javascript: link and raw HTML
    answer = (
        "The UUID of **merrydith** is `7d3c5b1e`.\n\n"
        "See [the profile](https://namemc.com/profile/merrydith) or [this](javascript:alert(1))."
        ' <img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    )
    model_server.script(fake_model.answer(answer))
    page = open_page(f"{server.url}/?mode=chat")
    page.ask(TUTORIAL)
    bot = page.page.locator(".mcw-bot").first
    bot.filter(has_text="7d3c5b1e").wait_for(timeout=ANSWER_TIMEOUT_MS)
    # Then paragraphs, bold, code and the https link are elements
    assert bot.locator("p").count() == 2
    assert bot.locator("strong").inner_text() == "merrydith"
    assert bot.locator("code").inner_text() == "7d3c5b1e"
    link = bot.locator("a")
    assert link.count() == 1
    assert link.get_attribute("href") == "https://namemc.com/profile/merrydith"
    assert set((link.get_attribute("rel") or "").split()) >= {"noopener"}
    # And the HTML is text, never markup: nothing ran
    assert bot.locator("img, script").count() == 0
    assert '<img src=x onerror="window.pwned=1">' in bot.inner_text()
    assert "[this](javascript:alert(1))" in bot.inner_text()
    assert page.page.evaluate("() => window.pwned") is None
    assert page.errors == []


def test_the_conversation_survives_a_reload_until_a_new_one_is_started(
    server: LocalServer, open_page: Any
) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    # When the page is reloaded
    page.page.reload()
    # Then the exchange is shown again, and a follow-up goes with it as history
    page.wait_for_answer(MERRYDITH_UUID)
    assert page.page.locator(".mcw-user").inner_text() == TUTORIAL
    sent = page.posts("/chat")
    page.ask(JEB)
    page.wait_for_answer(JEB_UUID, index=1)
    assert [turn["role"] for turn in sent[0]["history"]] == ["user", "assistant"]
    assert sent[0]["history"][0]["content"] == TUTORIAL
    # When "New conversation" is pressed, the log, the history and the stored copy are gone
    page.page.get_by_role("button", name="New conversation").click()
    assert page.page.locator(".mcw-user").count() == 0
    page.page.reload()
    page.page.locator(".mcw-empty").wait_for()
    assert page.page.locator(".mcw-user").count() == 0
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    assert sent[-1]["history"] == []
    assert page.errors == []


# GET /v1/responses/{id}: a poll (not .../cancel or .../input_items)
RESPONSE_POLL = re.compile(r"/v1/responses/resp_[^/?]+$")


@pytest.mark.parametrize("slow", [False, True], ids=["fast", "slow-mojang"])
def test_responses_mode_shows_the_trail_from_the_output_items(
    server: LocalServer, open_page: Any, mojang_server: Any, slow: bool
) -> None:
    if slow:  # every status outlasts a poll: the trail is seen live
        mojang_server.inject(Fault.hanging(1.5))
    page = open_page(f"{server.url}/?mode=responses")
    sent = page.posts("/v1/responses")
    polls: list[str] = []
    page.page.on("request", lambda r: polls.append(r.url) if RESPONSE_POLL.search(r.url) else None)
    # When the tutorial question is asked
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    # Then it went as a background response, polled until it ended
    assert sent == [{"input": TUTORIAL, "background": True}]
    assert polls
    # And the trail is every status it went through, its Mojang call from the mcp_call item
    assert page.trail() == TUTORIAL_STATUSES
    page.assert_one_lookup_shown()
    assert page.errors == []


def test_responses_mode_goes_on_with_the_servers_conversation(
    server: LocalServer, open_page: Any
) -> None:
    page = open_page(f"{server.url}/?mode=responses")
    sent = page.posts("/v1/responses")
    with page.page.expect_response(f"{server.url}/v1/responses") as created:
        page.ask(TUTORIAL)
    conversation = created.value.json()["conversation"]["id"]
    page.wait_for_answer(MERRYDITH_UUID)
    # When a follow-up is asked after a reload
    page.page.reload()
    page.wait_for_answer(MERRYDITH_UUID)
    page.ask(JEB)
    assert JEB_UUID in page.wait_for_answer(JEB_UUID, index=1)
    # Then it went on in the same conversation, kept by the server, not resent
    assert sent[-1] == {"input": JEB, "background": True, "conversation": conversation}
    items = page.page.request.get(f"{server.url}/v1/conversations/{conversation}/items").json()
    texts = [
        part["text"] for item in items["data"] if item["type"] == "message"
        for part in item["content"]
    ]  # fmt: skip
    assert TUTORIAL in texts
    assert JEB in texts
    assert any(JEB_UUID in text for text in texts)
    # When the conversation is gone from the server
    page.page.request.delete(f"{server.url}/v1/conversations/{conversation}")
    page.ask("who is Notch?")
    alert = page.page.locator(".mcw-error")
    alert.wait_for(timeout=ANSWER_TIMEOUT_MS)
    # Then the widget says so and forgets it: Retry asks the question on its own
    assert "conversation could not be sent, so it was cleared" in alert.inner_text()
    alert.get_by_role("button", name="Retry").click()
    page.wait_for_answer("069a79f4", index=2)
    assert sent[-1] == {"input": "who is Notch?", "background": True}
    new = page.page.evaluate("() => Object.values(localStorage).map(JSON.parse)[0].conversation")
    assert new not in (None, conversation)
    # And "New conversation" starts the next question without one
    page.page.get_by_role("button", name="New conversation").click()
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    assert sent[-1] == {"input": TUTORIAL, "background": True}
    assert page.script_errors() == []


def host_page(
    server: LocalServer,
    attributes: str,
    style: str = "",
    target: str = 'data-target="#chat"',
    content: str = "",
    widget: bool = True,
) -> Callable[[Any], None]:
    """A site's page (on the API's origin) embedding the widget with ``attributes``, after the
    site's own ``content``; ``widget=False``: the same page without the widget."""
    script = f'<script src="/widget.js" data-mode="chat" {target} {attributes}></script>'
    html = (
        f'<!doctype html><html lang="en"><head><title>A site</title><style>{style}</style>'
        f'</head><body><main><h1>A site</h1>{content}<div id="chat"></div></main>'
        f"{script if widget else ''}</body></html>"
    )

    def serve(page: Any) -> None:
        page.route(
            f"{server.url}/site.html",
            lambda route: route.fulfill(body=html, content_type="text/html"),
        )

    return serve


def test_the_string_table_follows_data_lang_and_data_strings(
    server: LocalServer, open_page: Any
) -> None:
    attributes = """data-lang="fr" data-strings='{"send": "Demander", "nope": "x"}'"""
    page = open_page(f"{server.url}/site.html", before=host_page(server, attributes))
    # Then the widget's words are French, but for the one the site overrode
    assert page.page.get_by_label("Votre question").count() == 1
    assert page.page.get_by_role("button", name="Demander").count() == 1
    assert page.page.get_by_role("button", name="Nouvelle conversation").count() == 1
    assert (
        page.page.locator(".mcw-head")
        .inner_text()
        .startswith("Questions sur les joueurs Minecraft")
    )
    # And the statuses of an answer too
    page.page.get_by_label("Votre question").fill(TUTORIAL)
    page.page.get_by_label("Votre question").press("Enter")
    page.wait_for_answer(MERRYDITH_UUID)
    assert page.page.locator(".mcw-trail li").last.inner_text() == "termin\u00e9"
    assert (
        page.page.locator(".mcw-tools summary").inner_text() == "1 appel \u00e0 l\u2019API Mojang"
    )
    assert page.errors == []


def test_a_site_themes_the_widget_with_css_custom_properties(
    server: LocalServer, open_page: Any
) -> None:
    style = ":root { --mcw-accent: rgb(90, 20, 140); --mcw-bg: rgb(250, 245, 230); }"
    page = open_page(f"{server.url}/site.html", before=host_page(server, "", style))
    page.page.locator(".mcw-head").wait_for()
    colours = [
        page.page.locator(selector).evaluate("node => getComputedStyle(node).backgroundColor")
        for selector in (".mcw-head", ".mcw", ".mcw-form button[type=submit]")
    ]
    assert colours == ["rgb(90, 20, 140)", "rgb(250, 245, 230)", "rgb(90, 20, 140)"]
    assert page.errors == []


# A site's stylesheet at its most hostile to an embedded widget: everything it could reach.
HOSTILE = """
* { font: italic 700 40px/3 serif !important; color: red !important; letter-spacing: 4px;
    text-transform: uppercase; text-align: right; cursor: wait; box-sizing: content-box; }
button { display: none !important; }
div, section, h2, p, ol, ul, li, form, label, input, details, summary, code, strong, a {
    display: block; margin: 40px !important; padding: 30px; border: 6px dashed red;
    background: yellow !important; list-style: square; position: relative; }
.mcw, .mcw-head, .mcw-log, .mcw-msg, .mcw-bot, .mcw-trail, .mcw-form, .mcw-launcher {
    display: none !important; }
"""
THEME = ":root { --mcw-accent: rgb(90, 20, 140); --mcw-bot: rgb(255, 250, 220); }"
# The computed properties compared between pages (sizes left out: the site sizes the box).
PROPERTIES = [
    "display", "position", "visibility", "font-family", "font-size", "font-style",
    "font-weight", "line-height", "letter-spacing", "text-transform", "text-align", "color",
    "background-color", "margin-top", "padding-top", "border-top-width", "border-top-style",
    "list-style-type", "box-sizing", "cursor", "right", "bottom", "z-index",
]  # fmt: skip
STYLES = """(nodes, names) => nodes.map(node => {
  const style = getComputedStyle(node), before = getComputedStyle(node, '::before');
  return Object.fromEntries(names.map(name => [name, style.getPropertyValue(name)])
    .concat([['::before', before.getPropertyValue('content')]]));
})"""
WIDGET_PARTS = [
    ".mcw", ".mcw-head", ".mcw-new", ".mcw-log", ".mcw-user", ".mcw-bot", ".mcw-bot p",
    ".mcw-trail", ".mcw-trail li", ".mcw-tools summary", ".mcw-form label", ".mcw-form input",
    ".mcw-form button[type=submit]",
]  # fmt: skip


def styles(page: Any, selectors: list[str]) -> dict[str, list[dict[str, str]]]:
    """The computed style of every element each selector matches (shadow roots pierced)."""
    return {
        selector: page.locator(selector).evaluate_all(STYLES, PROPERTIES) for selector in selectors
    }


def page_styles(page: Any, selectors: list[str]) -> dict[str, list[dict[str, str]]]:
    """The computed style of every element of the page's own document each selector matches."""
    light = f"([selector, names]) => ({STYLES})([...document.querySelectorAll(selector)], names)"
    return {selector: page.evaluate(light, [selector, PROPERTIES]) for selector in selectors}


@pytest.mark.parametrize("target", ['data-target="#chat"', ""], ids=["inline", "corner"])
def test_the_pages_css_does_not_reach_into_the_widget_but_its_theme_does(
    server: LocalServer, open_page: Any, target: str
) -> None:
    # Given two pages of a site themed alike, one of them with a stylesheet hostile to the widget
    pages = [
        open_page(f"{server.url}/site.html", before=host_page(server, "", THEME + extra, target))
        for extra in ("", HOSTILE)
    ]
    parts = WIDGET_PARTS + ([".mcw-launcher", ".mcw-close"] if not target else [])
    # When the same question is answered on both (through the corner button, when there is one)
    for page in pages:
        if not target:
            page.page.get_by_role("button", name="Ask about players").click()
        page.ask(TUTORIAL)
        page.wait_for_answer(MERRYDITH_UUID)
    # Then every part of the widget looks the same on both pages
    plain, hostile = (styles(page.page, parts) for page in pages)
    assert all(plain[part] for part in parts)
    assert hostile == plain
    assert pages[1].page.get_by_role("button", name="Send").is_visible()
    # And the site's theme reaches it through the shadow boundary, on both
    for page_styles in (plain, hostile):
        assert page_styles[".mcw-head"][0]["background-color"] == "rgb(90, 20, 140)"
        assert page_styles[".mcw-form button[type=submit]"][0]["background-color"] == (
            "rgb(90, 20, 140)"
        )
        assert page_styles[".mcw-bot"][0]["background-color"] == "rgb(255, 250, 220)"
    # While the hostile stylesheet does style the site's own page
    heading = pages[1].page.locator("h1").evaluate("node => getComputedStyle(node).fontSize")
    assert heading == "40px"
    assert [page.script_errors() for page in pages] == [[], []]


# Elements of the site that happen to use the widget's class names.
DECOYS = (
    '<section class="mcw mcw-panel mcw-inline"><h2 class="mcw-head">News</h2>'
    '<p class="mcw-empty">Nothing yet</p><div class="mcw-log"><div class="mcw-msg mcw-user">'
    "A <code>note</code></div></div>"
    '<ol class="mcw-trail"><li>one</li><li>two</li></ol><details class="mcw-tools">'
    '<summary>More</summary></details><form class="mcw-form"><label>Name <input></label>'
    '<button class="mcw-new">Go</button></form><div class="mcw-error">An error</div></section>'
    '<button class="mcw-launcher">Site button</button>'
)
DECOY_PARTS = [
    ".mcw", ".mcw-head", ".mcw-empty", ".mcw-log", ".mcw-msg", ".mcw-msg code", ".mcw-trail",
    ".mcw-trail li", ".mcw-tools summary", ".mcw-form", ".mcw-form input", ".mcw-new",
    ".mcw-error", ".mcw-launcher", "main", "button", "h2",
]  # fmt: skip
TAGS = "() => [...document.querySelectorAll('*')].map(node => node.localName).sort()"


@pytest.mark.parametrize("target", ['data-target="#chat"', ""], ids=["inline", "corner"])
def test_the_widgets_css_does_not_reach_the_page(
    server: LocalServer, open_page: Any, target: str
) -> None:
    # Given a site whose own elements use the widget's class names, with and without the widget
    with_widget, without = (
        open_page(
            f"{server.url}/site.html",
            before=host_page(server, "", target=target, content=DECOYS, widget=widget),
        )
        for widget in (True, False)
    )
    # When the widget has answered a question
    if not target:
        with_widget.page.get_by_role("button", name="Ask about players").click()
    with_widget.ask(TUTORIAL)
    with_widget.wait_for_answer(MERRYDITH_UUID)
    # Then the site's elements look as they do without the widget
    assert all(page_styles(without.page, DECOY_PARTS).values())
    assert page_styles(with_widget.page, DECOY_PARTS) == page_styles(without.page, DECOY_PARTS)
    # And the widget added no stylesheet to the page's document, only its own element
    assert with_widget.page.evaluate("() => document.styleSheets.length") == 1
    assert with_widget.page.evaluate(TAGS) == sorted(
        [*without.page.evaluate(TAGS), "script", "mojang-chat"]
    )
    assert with_widget.script_errors() == []


# axe-core, the accessibility engine, from the npm registry (pinned), installed on first use
# into test-artifacts/ (git-ignored) and injected into the page under test.
AXE_VERSION = "4.14.1"
AXE_DIR = ARTIFACTS / "npm"


def axe_script() -> str:
    """axe.min.js of the pinned axe-core: installed with npm when missing, else skip."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    npm = shutil.which("npm")
    if not script.is_file() and npm:
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - fixed arguments, a pinned package
            [
                npm,
                "install",
                "--no-save",
                "--no-package-lock",
                "--prefix",
                str(AXE_DIR),
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    if not script.is_file():
        pytest.skip("no axe-core: npm could not install it")
    return script.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page, as 'rule: target' lines; it must have
    checked the widget inside its shadow root (a target there is a [host, inner] list)."""
    page.add_script_tag(content=axe_script())
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    in_shadow = {
        rule["id"]
        for rule in result["passes"]
        for node in rule["nodes"]
        if isinstance(node["target"][0], list) and node["target"][0][0].endswith("mojang-chat")
    }
    assert {"color-contrast", "button-name", "label"} <= in_shadow, in_shadow
    return [
        f"{violation['id']}: {node['target']}"
        for violation in result["violations"]
        for node in violation["nodes"]
    ]


@pytest.mark.parametrize(
    ("mode", "width"),
    [("chat", 1000), ("runs", 1000), ("responses", 1000), ("runs", 360)],
    ids=["chat", "runs", "responses", "phone"],
)
def test_the_widget_passes_an_axe_audit(
    server: LocalServer, open_page: Any, mode: str, width: int
) -> None:
    page = open_page(f"{server.url}/?mode={mode}", width=width, height=800)
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    page.page.locator(".mcw-tools summary").click()  # the tool calls open, too
    assert axe_violations(page.page) == []


def test_the_corner_launcher_is_labelled_and_passes_an_axe_audit(
    server: LocalServer, open_page: Any
) -> None:
    page = open_page(f"{server.url}/site.html", before=host_page(server, "", target=""))
    launcher = page.page.get_by_role("button", name="Ask about players")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.page.locator(".mcw-panel").is_hidden()
    launcher.click()
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.page.locator(".mcw-panel").is_visible()
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    assert axe_violations(page.page) == []
