"""A stand-in for Mojang on 127.0.0.1: the three hosts' path families on one real HTTP server,
with sample players, for the offline demo, the tests and the benchmarks.

It behaves as ``reference/mojang-api.md`` describes (status codes, bodies, 10-name bulk cap,
shuffled bulk order, 204 for unknown profiles, fresh textures timestamps) and keeps a log of
every request. Point MOJANG_SESSION_URL and MINECRAFT_SERVICES_URL at ``url``. It serves the
deprecated api.mojang.com routes too (the tutorial's own tool calls one); the adapter never does.

    with MojangServer() as mojang:
        ...
        assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]

Test controls (tests/fakes) subclass it and answer some requests themselves (``override``).
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from mojang_chat.local.standins.httpserver import StandInHandler, StandInServer

MERRYDITH_UUID = "7d3c5b1e9f2a4c68b0e4a1f2c3d5e6f7"
NOTCH_UUID = "069a79f444e94726a5befca90e38aaf5"
JEB_UUID = "853c80ef3c3749fdaa49938b674adae6"
DINNERBONE_UUID = "61699b2ed3274a019f1e0ea8c3f06bc6"

_TEXTURES = "http://textures.minecraft.net/texture/"
_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,25}")
_UUID_RE = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_BULK_PATHS = ("/profiles/minecraft", "/minecraft/profile/lookup/bulk/byname")

# SHA-1 hashes of blocked hosts, one per line (these two are made up).
BLOCKED_SERVERS = (
    "6f2520f8bd70a718c568ab5274c56bdbbfc14ef4\nb13009db1e2fbe05465716f67c8d58b9c0503520\n"
)


@dataclass(frozen=True)
class Player:
    """One account of the stand-in: ``skin_url`` None means no SKIN texture (a default skin)."""

    id: str
    name: str
    skin_url: str | None = None
    slim: bool = False
    cape_url: str | None = None
    legacy: bool = False
    demo: bool = False


SAMPLE_PLAYERS: Mapping[str, Player] = MappingProxyType(
    {
        player.name.lower(): player
        for player in (
            Player(
                MERRYDITH_UUID,
                "merrydith",
                skin_url=_TEXTURES
                + "5a2b7c0e41d3f9a8b6c4d2e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9",
                slim=True,
            ),
            Player(
                NOTCH_UUID,
                "Notch",
                skin_url=_TEXTURES
                + "292009a4925b58f02c77dadc3ecef07ea4c7472f64e0fdc32ce5522489362680",
            ),
            Player(
                JEB_UUID,
                "jeb_",
                skin_url=_TEXTURES
                + "7fd9ba42a7c81eeea22f1524271ae85a8e045ce0af5a6ae16c6406ae917e68b5",
                cape_url=_TEXTURES
                + "9e507afc56359978a3eb3e32367042b853cddd0995d17d0da995662913fb00f7",
            ),
            Player(
                DINNERBONE_UUID,
                "Dinnerbone",
                skin_url=_TEXTURES
                + "50c410fad8d9d8825ad56b0e443e2777a6b46bfa20dacd1d2f55edc71fbeb06d",
                cape_url=_TEXTURES
                + "9e507afc56359978a3eb3e32367042b853cddd0995d17d0da995662913fb00f7",
            ),
            # No SKIN texture at all: clients show the default skin picked from the UUID.
            Player("d1e2f3a4b5c64d7e8f90a1b2c3d4e5f6", "Plain_Steve"),
            Player("2b3c4d5e6f704a1b9c2d3e4f5a6b7c8d", "OldTimer", legacy=True),
            Player("3c4d5e6f7a814b2c8d3e4f5a6b7c8d9e", "TryBeforeBuy", demo=True),
        )
    }
)


# What a test control answers instead of the API: status, body, headers, and the seconds
# between two bytes of the body (0: all at once; more: an upstream trickling its answer).
Override = tuple[int, bytes, Mapping[str, str], float]


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str  # as sent, percent-encoding and query included
    body: bytes
    headers: Mapping[str, str]
    # When it came (epoch seconds): the benchmark counts requests per 60 s window.
    at: float = 0.0

    def json(self) -> Any:
        """The body, parsed as JSON."""
        return json.loads(self.body)


class MojangServer(StandInServer):
    """The stand-in: ``players`` (default: the sample players) by lower-cased name; ``latency``
    seconds added to every answer; ``seed`` fixes the bulk lookups' shuffled order."""

    thread_name = "stand-in-mojang"

    def __init__(
        self,
        players: Mapping[str, Player] | None = None,
        *,
        latency: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(latency=latency)
        source = SAMPLE_PLAYERS if players is None else players
        self.players: dict[str, Player] = {p.name.lower(): p for p in source.values()}
        self._random = random.Random(seed)
        self._log: list[LoggedRequest] = []

    def add_player(self, player: Player) -> None:
        """Make ``player`` known from now on (a name already known is replaced)."""
        with self._lock:
            self.players[player.name.lower()] = player

    def requests(self, path_prefix: str = "/") -> list[LoggedRequest]:
        """The requests received so far whose path starts with ``path_prefix``, in order."""
        with self._lock:
            return [r for r in self._log if r.path.startswith(path_prefix)]

    def clear_log(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._log.clear()

    def override(self, request: LoggedRequest) -> Override | None:
        """What to answer instead of the API, or None to answer as Mojang would. The stand-in
        answers everything itself; test controls override this to inject faults (a wait here
        delays the answer)."""
        return None

    # -- used by the handler --------------------------------------------------------------------

    def _record(self, request: LoggedRequest) -> None:
        with self._lock:
            self._log.append(request)

    def _player_by_name(self, name: str) -> Player | None:
        with self._lock:
            return self.players.get(name.lower())

    def _player_by_uuid(self, uuid: str) -> Player | None:
        wanted = uuid.replace("-", "").lower()
        with self._lock:
            return next((p for p in self.players.values() if p.id == wanted), None)

    def _shuffled(self, items: list[Any]) -> list[Any]:
        with self._lock:
            self._random.shuffle(items)
        return items


def _id_body(player: Player) -> dict[str, Any]:
    body: dict[str, Any] = {"id": player.id, "name": player.name}
    # Mojang sends the flags only when true.
    if player.legacy:
        body["legacy"] = True
    if player.demo:
        body["demo"] = True
    return body


def textures_value(player: Player, *, signed: bool = False) -> str:
    """The base64 ``textures`` property Mojang would send for ``player`` right now."""
    textures: dict[str, Any] = {}
    if player.skin_url is not None:
        skin: dict[str, Any] = {"url": player.skin_url}
        if player.slim:
            skin["metadata"] = {"model": "slim"}
        textures["SKIN"] = skin
    if player.cape_url is not None:
        textures["CAPE"] = {"url": player.cape_url}
    document: dict[str, Any] = {
        "timestamp": int(time.time() * 1000),
        "profileId": player.id,
        "profileName": player.name,
    }
    if signed:
        document["signatureRequired"] = True
    document["textures"] = textures
    return base64.b64encode(json.dumps(document).encode()).decode()


class _Handler(StandInHandler[MojangServer]):
    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        standin = self.standin
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = LoggedRequest(method, self.path, body, dict(self.headers.items()), time.time())
        standin._record(request)
        standin.wait(standin.latency)
        try:
            override = standin.override(request)
            if override is not None:
                self._send(*override)
                return
            self._route(method, request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to answer

    def _route(self, method: str, request: LoggedRequest) -> None:
        path = urlsplit(request.path).path
        query = urlsplit(request.path).query
        if method == "POST" and path in _BULK_PATHS:
            self._bulk(path, request)
        elif method == "GET" and path.startswith("/users/profiles/minecraft/"):
            self._by_name(path, path.removeprefix("/users/profiles/minecraft/"))
        elif method == "GET" and path.startswith("/minecraft/profile/lookup/name/"):
            self._by_name(path, path.removeprefix("/minecraft/profile/lookup/name/"))
        elif method == "GET" and path.startswith("/minecraft/profile/lookup/"):
            self._by_uuid(path, path.removeprefix("/minecraft/profile/lookup/"))
        elif method == "GET" and path.startswith("/user/profile/"):
            self._by_uuid(path, path.removeprefix("/user/profile/"))
        elif method == "GET" and path.startswith("/session/minecraft/profile/"):
            self._profile(path, path.removeprefix("/session/minecraft/profile/"), query)
        elif method == "GET" and path == "/blockedservers":
            self._send(200, BLOCKED_SERVERS.encode(), {"Content-Type": "text/plain"})
        else:
            self._json(404, {"path": path, "error": "NOT_FOUND", "errorMessage": "Not Found"})

    def _by_name(self, path: str, raw: str) -> None:
        name = unquote(raw)
        if _NAME_RE.fullmatch(name) is None:
            self._json(
                400,
                {
                    "path": path,
                    "error": "CONSTRAINT_VIOLATION",
                    "errorMessage": "getProfileName.name: Invalid profile name, "
                    "getProfileName.name: size must be between 1 and 25",
                },
            )
            return
        player = self.standin._player_by_name(name)
        if player is None:
            self._json(
                404, {"path": path, "errorMessage": f"Couldn't find any profile with name {name}"}
            )
            return
        self._json(200, _id_body(player))

    def _bulk(self, path: str, request: LoggedRequest) -> None:
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            self._json(
                415,
                {
                    "path": path,
                    "error": "Unsupported Media Type",
                    "errorMessage": f"Content-Type '{content_type}' is not supported",
                },
            )
            return
        try:
            names = json.loads(request.body)
        except ValueError:
            names = None
        valid = (
            isinstance(names, list)
            and 1 <= len(names) <= 10
            and all(isinstance(n, str) and _NAME_RE.fullmatch(n) for n in names)
        )
        if not valid:
            # One bad name (or too many, or none) fails the whole batch.
            self._json(
                400,
                {
                    "path": path,
                    "error": "CONSTRAINT_VIOLATION",
                    "errorMessage": "getProfileIdsByNames.profileNames: size must be between 1 "
                    "and 10, or a name is invalid",
                },
            )
            return
        found = []
        seen: set[str] = set()
        for name in names:
            player = self.standin._player_by_name(name)
            if player is not None and player.id not in seen:
                seen.add(player.id)
                found.append({"id": player.id, "name": player.name})
        self._json(200, self.standin._shuffled(found))

    def _uuid(self, path: str, raw: str) -> str | None:
        """The UUID in the path; None once a malformed one is answered with Mojang's 400."""
        uuid = unquote(raw)
        if _UUID_RE.fullmatch(uuid) is None:
            self._json(400, {"path": path, "errorMessage": f"Not a valid UUID: {uuid}"})
            return None
        return uuid

    def _by_uuid(self, path: str, raw: str) -> None:
        uuid = self._uuid(path, raw)
        if uuid is None:
            return
        player = self.standin._player_by_uuid(uuid)
        if player is None:
            self._json(404, {"path": path, "error": "NOT FOUND", "errorMessage": "Not Found"})
            return
        self._json(200, {"id": player.id, "name": player.name})

    def _profile(self, path: str, raw: str, query: str) -> None:
        uuid = self._uuid(path, raw)
        if uuid is None:
            return
        player = self.standin._player_by_uuid(uuid)
        if player is None:
            self._send(204, b"", {})
            return
        signed = "unsigned=false" in query
        prop: dict[str, Any] = {"name": "textures", "value": textures_value(player, signed=signed)}
        if signed:
            prop["signature"] = base64.b64encode(b"not a real signature").decode()
        self._json(
            200,
            {"id": player.id, "name": player.name, "properties": [prop], "profileActions": []},
        )

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _send(
        self, status: int, body: bytes, headers: Mapping[str, str], byte_interval: float = 0.0
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status == 204 or not body:
            return
        if byte_interval <= 0:
            self.wfile.write(body)
            return
        self.wfile.flush()
        for index in range(len(body)):
            if self.standin.wait(byte_interval):
                self.close_connection = True
                return
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()


# Set here: the handler is typed by the stand-in it serves, so it comes after it.
MojangServer.handler = _Handler
