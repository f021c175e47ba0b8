"""The stand-in model's brain, as a pure function: a chat completion request in, a reply out.

Each kind of question the Mojang tools can answer is routed to the right tool (offered as the
application offers them, from the registry), and the answer built from the tools' outputs
(shaped by the real result models) says what was asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mojang_chat.local.standins import (
    HELP,
    NO_PLAYER,
    NOTCH_UUID,
    SAMPLE_PLAYERS,
    Player,
    Reply,
    brain,
)
from mojang_chat.mojang import (
    BulkLookup,
    PlayerId,
    PlayerProfile,
    Skin,
    dashed_uuid,
    mojang_tools,
    offline_uuid,
)
from mojang_chat.mojang.tools import get_offline_uuid

TOOLS: list[dict[str, Any]] = mojang_tools.definitions
NOTCH_DASHED = "069a79f4-44e9-4726-a5be-fca90e38aaf5"
UNKNOWN_DASHED = "00000000-0000-4000-8000-000000000000"


def _player(key: str) -> Player | None:
    """A sample player by name or UUID (dashed or not), any case."""
    wanted = key.replace("-", "").lower()
    return SAMPLE_PLAYERS.get(key.lower()) or next(
        (p for p in SAMPLE_PLAYERS.values() if p.id == wanted), None
    )


def _identity(player: Player) -> dict[str, Any]:
    return PlayerId(id=player.id, name=player.name).model_dump(mode="json")


def tool_output(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What the real tool answers for the sample players (mojang/tools.py's shapes)."""
    if name == "get_offline_uuid":
        computed: dict[str, Any] = get_offline_uuid(**arguments)
        return computed
    if name == "get_uuids_from_usernames":
        found = [p for p in map(_player, arguments["usernames"]) if p is not None]
        missing = [n for n in arguments["usernames"] if _player(n) is None]
        lookup = BulkLookup(
            found=[PlayerId(id=p.id, name=p.name) for p in found],
            not_found=missing,
            invalid=[],
            failed=[],
        )
        return lookup.model_dump(mode="json")
    key = next(iter(arguments.values()))
    player = _player(key)
    if player is None:
        return {"found": False, "uuid" if "uuid" in arguments else "username": key}
    if name == "get_player_profile":
        model = "slim" if player.slim else "classic"
        skin = Skin(url=player.skin_url, model=model, is_default=False)
        profile = PlayerProfile(id=player.id, name=player.name, skin=skin, cape_url=player.cape_url)
        return {"found": True, **profile.model_dump(mode="json")}
    return {"found": True, **_identity(player)}


def request(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": messages}
    if tools:
        body["tools"] = tools
    return body


def calls_of(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    return [(name, json.loads(arguments)) for name, arguments in reply.calls]


def converse(
    question: str, tools: list[dict[str, Any]] = TOOLS
) -> tuple[list[list[tuple[str, dict[str, Any]]]], str]:
    """Ask the brain ``question``, run the tools it calls round by round, until it answers:
    (the calls of each round, the answer)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You answer questions about Minecraft players."},
        {"role": "user", "content": question},
    ]
    rounds: list[list[tuple[str, dict[str, Any]]]] = []
    for index in range(4):
        reply = brain(request(messages, tools))
        if not reply.calls:
            assert reply.finish_reason == "stop"
            assert reply.content is not None
            return rounds, reply.content
        assert reply.finish_reason == "tool_calls"
        calls = calls_of(reply)
        rounds.append(calls)
        ids = [f"call_{index}_{n}" for n in range(len(calls))]
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                    for i, (n, a) in zip(ids, reply.calls, strict=True)
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": i, "content": json.dumps(tool_output(n, a))}
            for i, (n, a) in zip(ids, calls, strict=True)
        ]
    raise AssertionError(f"no answer after 4 rounds: {rounds}")


# --- which tool each question starts with -----------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        pytest.param(
            "what is the uuid of merrydith?",
            [("get_uuid_from_username", {"username": "merrydith"})],
            id="uuid-by-name",
        ),
        pytest.param(
            "what is the id of the player username merrydith",
            [("get_uuid_from_username", {"username": "merrydith"})],
            id="the-tutorial",
        ),
        pytest.param(
            "What are the UUIDs of Notch, jeb_ and Dinnerbone?",
            [("get_uuids_from_usernames", {"usernames": ["Notch", "jeb_", "Dinnerbone"]})],
            id="several-names",
        ),
        pytest.param(
            f"who owns {NOTCH_DASHED}?",
            [("get_username_from_uuid", {"uuid": NOTCH_DASHED})],
            id="name-by-uuid",
        ),
        pytest.param(
            f"what cape has {NOTCH_UUID}",
            [("get_player_profile", {"uuid": NOTCH_UUID})],
            id="cape-by-uuid",
        ),
        pytest.param(
            "does jeb_ use the slim skin model?",
            [("get_uuid_from_username", {"username": "jeb_"})],
            id="skin-by-name",
        ),
        pytest.param(
            "does Notch have a cape?",
            [("get_uuid_from_username", {"username": "Notch"})],
            id="cape-by-name",
        ),
        pytest.param(
            "what is the offline uuid of Notch?",
            [("get_offline_uuid", {"username": "Notch"})],
            id="offline-uuid",
        ),
        pytest.param(
            "offline-mode UUIDs of Notch and jeb_ on a cracked server?",
            [("get_offline_uuid", {"username": n}) for n in ("Notch", "jeb_")],
            id="offline-uuids",
        ),
    ],
)
def test_each_kind_of_question_calls_its_tool(
    question: str, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    reply = brain(request([{"role": "user", "content": question}], TOOLS))

    assert reply.finish_reason == "tool_calls"
    assert calls_of(reply) == expected


# --- whole conversations, tools answering from the sample players ------------------------------


def test_a_uuid_by_name() -> None:
    rounds, text = converse("what is the uuid of merrydith?")

    assert rounds == [[("get_uuid_from_username", {"username": "merrydith"})]]
    assert text == f"The UUID of merrydith is {SAMPLE_PLAYERS['merrydith'].id}."


def test_several_names_in_one_bulk_lookup() -> None:
    rounds, text = converse("What are the UUIDs of Notch, jeb_ and nobody_here?")

    assert [name for name, _ in rounds[0]] == ["get_uuids_from_usernames"]
    assert f"The UUID of Notch is {NOTCH_UUID}." in text
    assert f"The UUID of jeb_ is {SAMPLE_PLAYERS['jeb_'].id}." in text
    assert "Player nobody_here was not found." in text


def test_who_owns_a_uuid_is_answered_with_the_name() -> None:
    rounds, text = converse(f"who owns {NOTCH_DASHED}?")

    assert rounds == [[("get_username_from_uuid", {"uuid": NOTCH_DASHED})]]
    assert text == f"The player with UUID {NOTCH_DASHED} is Notch."
    assert "The UUID of Notch" not in text


def test_who_owns_an_unknown_uuid() -> None:
    rounds, text = converse(f"who owns {UNKNOWN_DASHED}?")

    assert rounds == [[("get_username_from_uuid", {"uuid": UNKNOWN_DASHED})]]
    assert text == f"No player has the UUID {UNKNOWN_DASHED}."


def test_who_owns_a_uuid_with_the_profile_tool_alone() -> None:
    tools = [t for t in TOOLS if t["function"]["name"] == "get_player_profile"]

    rounds, text = converse(f"who owns {NOTCH_DASHED}?", tools)

    assert rounds == [[("get_player_profile", {"uuid": NOTCH_DASHED})]]
    assert text.startswith(f"The player with UUID {NOTCH_DASHED} is Notch.")


def test_the_skin_model_takes_the_uuid_then_the_profile() -> None:
    jeb = SAMPLE_PLAYERS["jeb_"].id

    rounds, text = converse("does jeb_ use the slim skin model?")

    assert rounds == [
        [("get_uuid_from_username", {"username": "jeb_"})],
        [("get_player_profile", {"uuid": jeb})],
    ]
    # One sentence per fact: the profile repeats the UUID, the answer does not
    assert text == f"The UUID of jeb_ is {jeb}. jeb_ uses the classic skin model. jeb_ has a cape."


def test_a_cape_question() -> None:
    rounds, text = converse("does Notch have a cape?")

    assert [calls[0][0] for calls in rounds] == ["get_uuid_from_username", "get_player_profile"]
    assert "Notch has no cape." in text
    assert "merrydith uses the slim skin model." in converse("is merrydith's skin slim?")[1]


def test_the_offline_uuid_is_computed_not_looked_up() -> None:
    rounds, text = converse("what is the offline uuid of Notch?")

    assert rounds == [[("get_offline_uuid", {"username": "Notch"})]]
    computed = dashed_uuid(offline_uuid("Notch"))
    assert text.startswith(f"The offline-mode UUID of Notch is {computed}.")
    assert "not the UUID of a Mojang account" in text
    # Never a player named "offline", nor Notch's account
    assert "offline was not found" not in text
    assert NOTCH_UUID not in text
    assert dashed_uuid(NOTCH_UUID) not in text


def test_an_offline_question_without_the_offline_tool_looks_nothing_up() -> None:
    tools = [t for t in TOOLS if t["function"]["name"] != "get_offline_uuid"]

    rounds, text = converse("what is the offline uuid of Notch?", tools)

    assert rounds == []
    assert text == HELP


# --- what it cannot answer, said plainly ------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "what is the uuid of the player?",
        "who owns this account?",
        "show me the skin",
        "what is my offline uuid?",
    ],
)
def test_a_question_about_players_that_names_none(question: str) -> None:
    rounds, text = converse(question)

    assert rounds == []
    assert text == NO_PLAYER
    assert text.startswith("I found no player name or UUID in your question")


@pytest.mark.parametrize(
    ("question", "tools"),
    [
        ("What's the weather today?", TOOLS),
        ("hello", TOOLS),
        ("what is the uuid of merrydith", []),
    ],
    ids=["off-topic", "greeting", "no-tools"],
)
def test_what_it_cannot_do_it_explains(question: str, tools: list[dict[str, Any]]) -> None:
    assert converse(question, tools) == ([], HELP)


def test_tool_choice_none_means_no_tool_calls() -> None:
    body = request([{"role": "user", "content": "what is the uuid of merrydith?"}], TOOLS)
    body["tool_choice"] = "none"

    reply = brain(body)

    assert (reply.calls, reply.content) == ((), HELP)
