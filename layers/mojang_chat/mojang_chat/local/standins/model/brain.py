"""The stand-in model's brain: deterministic rules, not an LLM, that answer questions about
Minecraft players with the tools a request offers. It answers when no step is scripted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping

from mojang_chat.local.standins.model.script import Json, Reply, answer, tool_calls

HELP = (
    "I can answer questions about Minecraft players: ask me for the UUID of a username, "
    "the name behind a UUID, or a player's skin and cape."
)
# A question about players that names none: said plainly, then what can be asked.
NO_PLAYER = "I found no player name or UUID in your question, so I cannot look anything up. " + HELP
_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}\b")
_NAME = re.compile(r"^[A-Za-z0-9_]{3,16}$")
_SKIN = re.compile(r"\b(skins?|capes?|slim|classic|alex|steve|textures?)\b", re.IGNORECASE)
# Offline-mode (cracked server) UUIDs are computed from a name, never looked up at Mojang.
_OFFLINE = re.compile(r"\b(offline|cracked)\b", re.IGNORECASE)
# Without one of these the question is not about players ("what's the weather?"): no lookup.
_TOPIC = re.compile(r"\b(uuids?|ids?|players?|users?|usernames?|names?|who|minecraft)\b", re.I)
_MARKERS = {"player", "players", "username", "usernames", "user", "users", "named", "called"}
# Words of a question that are never player names (unless right after a marker).
_COMMON_WORDS = (
    "a about account accounts alex all an and any are arm arms both can cape capes classic "
    "cracked do does for from get given has have he hello her hey hi his how i id ids is it its "
    "look me minecraft mode model my name names of offline on online or owns please profile "
    "same server she show skin skins slim steve tell texture textures thanks that the their "
    "them these they this those to up use uses uuid uuids wear wears what whats which who "
    "whose wide with you your"
)
_COMMON = _MARKERS | set(_COMMON_WORDS.split())


def brain(request: Json) -> Reply:
    """What the stand-in model says to ``request`` (a chat completion request body) when
    nothing is scripted: the tool calls that answer the last question or, once the tools have
    answered, a plain-English answer from their outputs."""
    tools = _offered_tools(request)
    messages = request["messages"]
    question = next(
        (_text(m.get("content")) for m in reversed(messages) if m["role"] == "user"), ""
    )
    if messages[-1]["role"] == "tool":
        return _after_tools(question, tools, messages)
    if messages[-1]["role"] != "user":
        return answer(HELP)
    return _first_calls(question, tools)


def _offered_tools(request: Json) -> dict[str, Json]:
    """The function tools the model may call, by name (none when tool_choice is "none")."""
    if request.get("tool_choice") == "none":
        return {}
    return {
        tool["function"]["name"]: tool["function"]
        for tool in request.get("tools") or []
        if tool.get("type") == "function"
    }


def _first_calls(question: str, tools: Mapping[str, Json]) -> Reply:
    """The tool calls that start answering ``question``; a plain answer when none fits."""
    skin = _SKIN.search(question) is not None
    offline = _OFFLINE.search(question) is not None
    if not (skin or offline or _TOPIC.search(question)):
        return answer(HELP)
    uuids = _UUID.findall(question)
    names = _player_names(question)
    if not uuids and not names:
        return answer(NO_PLAYER)
    if offline and names:
        # Only the offline tool answers this: a Mojang lookup would give another UUID.
        computed = _tool(tools, "offline", "name", offline=True)
        return _calls(computed, names) if computed else answer(HELP)
    profile = _tool(tools, "profile", "uuid")
    # "Who owns <uuid>?" wants a name; a skin question about a UUID wants the profile.
    by_uuid = (None if skin else _tool(tools, "name", "uuid")) or profile
    bulk = _tool(tools, "uuid", "name", array=True)
    single = _tool(tools, "uuid", "name")
    if uuids and by_uuid:
        return _calls(by_uuid, uuids)
    if len(names) > 1 and bulk:
        return _calls(bulk, [names])
    if names and single:
        return _calls(single, names)
    return answer(HELP)


def _after_tools(question: str, tools: Mapping[str, Json], messages: list[Json]) -> Reply:
    """The next step once the tools have answered: the answer, except that skins take a second
    round (the UUID first, then the profile that holds the textures)."""
    outputs = list(_tool_outputs(messages))
    called = {name for name, _, _ in outputs}
    ids = [found for _, _, output in outputs for found in _ids(output)]
    profile = _tool(tools, "profile", "uuid")
    if _SKIN.search(question) and profile and profile[0] not in called and ids:
        return _calls(profile, dict.fromkeys(ids))
    return compose_answer(messages)


def _text(content: Json) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _player_names(question: str) -> list[str]:
    """Name-shaped words that are not ordinary English, plus any word right after "player"."""
    words = re.findall(r"[A-Za-z0-9_]+", _UUID.sub(" ", question))
    names: list[str] = []
    for before, word in zip(["", *words], words, strict=False):
        after_marker = before.lower() in _MARKERS and word.lower() not in _MARKERS
        if _NAME.match(word) and (word.lower() not in _COMMON or after_marker):
            names.append(word)
    return list(dict.fromkeys(names))


def _is_array(schema: Json) -> bool:
    kinds = schema.get("type")
    return (
        kinds == "array"
        or (isinstance(kinds, list) and "array" in kinds)
        or any(_is_array(sub) for sub in schema.get("anyOf", []))
    )


def _tool(
    tools: Mapping[str, Json],
    name_part: str,
    param_part: str,
    *,
    array: bool = False,
    offline: bool = False,
) -> tuple[str, str] | None:
    """The first offered tool whose name contains `name_part` and whose first parameter's name
    contains `param_part` (an array or not): (tool, parameter). Offline-UUID tools compute
    rather than look up: they are found with `offline` only, and then they alone are."""
    for name, function in tools.items():
        properties = (function.get("parameters") or {}).get("properties") or {}
        param, schema = next(iter(properties.items()), ("", {}))
        if (
            name_part in name.lower()
            and ("offline" in name.lower()) == offline
            and param_part in param.lower()
            and _is_array(schema) == array
        ):
            return name, param
    return None


def _calls(tool: tuple[str, str], values: Iterable[Json]) -> Reply:
    return tool_calls(*((tool[0], {tool[1]: value}) for value in values))


def _tool_outputs(messages: list[Json]) -> Iterator[tuple[str, Json, Json]]:
    """(tool name, arguments, parsed output) for each tool message since the last user turn."""
    start = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=0)
    asked = {
        call["id"]: call["function"]
        for message in messages[start:]
        for call in message.get("tool_calls") or []
    }
    for message in messages[start:]:
        if message["role"] != "tool":
            continue
        function = asked.get(message["tool_call_id"], {"name": "tool", "arguments": "{}"})
        outputs = []
        for text in (_text(message.get("content")), function["arguments"]):
            try:
                outputs.append(json.loads(text))
            except (ValueError, RecursionError):
                # The model wrote invalid JSON (or JSON nested too deep to read), or the tool
                # plain text.
                outputs.append(text)
        yield function["name"], outputs[1], outputs[0]


def _ids(output: Json) -> list[str]:
    """The player UUIDs in a tool output (one player, a list, or a bulk lookup)."""
    if isinstance(output, list):
        return [found for item in output for found in _ids(item)]
    if not isinstance(output, dict):
        return []
    if isinstance(output.get("id") or output.get("uuid"), str):
        return [output.get("id") or output["uuid"]]
    return [found for value in output.values() if isinstance(value, list) for found in _ids(value)]


def _plain(uuid: str) -> str:
    return uuid.replace("-", "").lower()


def _describe(output: Json, asked: str, stated: set[str]) -> list[str]:
    """Plain sentences about one tool output; `asked` is what the model asked the tool for,
    `stated` the UUIDs already named in the answer (updated)."""
    if isinstance(output, list):
        return [s for item in output for s in _describe(item, asked, stated)] or [
            f"Player {asked} was not found."
        ]
    if isinstance(output, str):
        return [output]  # an error string from the tool loop reaches the user as is
    by_uuid = _UUID.fullmatch(asked) is not None
    if not isinstance(output, dict) or output.get("found") is False:
        return [f"No player has the UUID {asked}." if by_uuid else f"Player {asked} was not found."]
    if "error" in output:
        problem = output["error"]
        detail = problem.get("message", problem) if isinstance(problem, dict) else problem
        return [f"The lookup for {output.get('name', asked)} failed: {detail}"]
    if isinstance(output.get("found"), list):  # a bulk lookup: found, not_found, invalid, failed
        sentences = [s for player in output["found"] for s in _describe(player, asked, stated)]
        sentences += [f"Player {name} was not found." for name in output.get("not_found", [])]
        problems = [*output.get("invalid", []), *output.get("failed", [])]
        return sentences + [s for problem in problems for s in _describe(problem, asked, stated)]
    if "offline_uuid" in output:
        name = output.get("username", asked)
        offline = output.get("dashed_offline_uuid") or output["offline_uuid"]
        return [
            f"The offline-mode UUID of {name} is {offline}. An offline-mode server computes it "
            "from the name; it is not the UUID of a Mojang account."
        ]
    uuid = output.get("id") or output.get("uuid")
    name = output.get("name") or output.get("username") or asked
    if not uuid:
        pairs = [(k, v) for k, v in output.items() if isinstance(v, str) and _UUID.fullmatch(v)]
        return [f"The UUID of {k} is {v}." for k, v in pairs] or [json.dumps(output)]
    if by_uuid and _plain(asked) == _plain(uuid):
        # Looked up by UUID: the news is the name (unless an earlier lookup gave the UUID).
        sentences = [] if _plain(uuid) in stated else [f"The player with UUID {asked} is {name}."]
    else:
        sentences = [f"The UUID of {name} is {uuid}."]
    stated.add(_plain(uuid))
    skin = output["skin"] if isinstance(output.get("skin"), dict) else output
    model = skin.get("skin_model") or skin.get("model") or skin.get("variant")
    if model is None and isinstance(skin.get("slim"), bool):
        model = "slim" if skin["slim"] else "classic"
    if model:
        sentences.append(f"{name} uses the {str(model).lower()} skin model.")
    cape = next((key for key in ("cape_url", "cape", "has_cape") if key in output), None)
    if cape:
        sentences.append(f"{name} has {'a' if output[cape] else 'no'} cape.")
    return sentences


def compose_answer(messages: list[Json]) -> Reply:
    """A plain-English answer built from the tool outputs since the last user message."""
    sentences: list[str] = []
    stated: set[str] = set()
    for _, arguments, output in _tool_outputs(messages):
        values = list(arguments.values()) if isinstance(arguments, dict) else []
        asked = ", ".join(map(str, values[0])) if values and isinstance(values[0], list) else ""
        asked = asked or (str(values[0]) if values else "that player")
        sentences += _describe(output, asked, stated)
    return answer(" ".join(dict.fromkeys(sentences)) or HELP)
