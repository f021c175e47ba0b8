"""Fault injection on the stand-in Mojang (``mojang_chat.local.standins.mojang``): the next
requests to a path answered with a 403 WAF page, 429, 5xx, a hang, a malformed or huge body.

    with FakeMojangServer() as mojang:
        mojang.inject(Fault.rate_limited(), times=1, path_prefix="/minecraft/profile/lookup/name/")
        ...
        assert mojang.requests() == []
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from mojang_chat.local.standins.mojang import LoggedRequest, MojangServer, Override, Player

WAF_PAGE = (
    "<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1>"
    "</center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body></html>"
)


@dataclass(frozen=True)
class Fault:
    """What to answer instead of the normal response. ``status`` None: after ``hang`` seconds,
    answer normally (latency), else send ``status`` with ``body`` and ``headers``, one byte
    every ``byte_interval`` seconds when that is set."""

    status: int | None = 500
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: float = 0.0
    byte_interval: float = 0.0

    @classmethod
    def waf(cls) -> Fault:
        """Azure Application Gateway's 403 HTML page."""
        return cls(403, WAF_PAGE.encode(), {"Content-Type": "text/html"})

    @classmethod
    def rate_limited(cls, retry_after: float | None = None, path: str = "/") -> Fault:
        """429 with Mojang's bare ``{"path": ...}`` body; a Retry-After header if given."""
        headers = {"Content-Type": "application/json"}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        return cls(429, json.dumps({"path": path}).encode(), headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(
            status, b'{"error":"Internal Server Error"}', {"Content-Type": "application/json"}
        )

    @classmethod
    def hanging(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering normally (a client with a shorter timeout gives up)."""
        return cls(None, hang=seconds)

    @classmethod
    def trickling(cls, byte_interval: float = 0.5) -> Fault:
        """A valid answer (a player found) sent one byte every ``byte_interval`` seconds: each
        read gets a byte in time, so no read timeout ever fires."""
        body = json.dumps({"id": "069a79f444e94726a5befca90e38aaf5", "name": "Notch"}).encode()
        return cls(200, body, {"Content-Type": "application/json"}, byte_interval=byte_interval)

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls(200, b'{"id": "069a79f4', {"Content-Type": "application/json"})

    @classmethod
    def empty_200(cls) -> Fault:
        return cls(200, b"", {"Content-Type": "application/json"})

    @classmethod
    def huge_body(cls, size: int = 2_000_000) -> Fault:
        """A valid JSON body of more than ``size`` bytes."""
        return cls(
            200, b'{"id":"' + b"0" * size + b'","name":"x"}', {"Content-Type": "application/json"}
        )


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int
    path_prefix: str


class FakeMojangServer(MojangServer):
    """The stand-in Mojang, with faults queued by ``inject`` answered first."""

    def __init__(
        self, players: Mapping[str, Player] | None = None, *, latency: float = 0.0, seed: int = 0
    ) -> None:
        super().__init__(players, latency=latency, seed=seed)
        self._faults: list[_QueuedFault] = []

    def inject(self, fault: Fault, *, times: int = 1, path_prefix: str = "/") -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix`` with
        ``fault`` (faults queued earlier are used first)."""
        with self._lock:
            self._faults.append(_QueuedFault(fault, times, path_prefix))

    def clear_faults(self) -> None:
        """Forget the faults not used yet."""
        with self._lock:
            self._faults.clear()

    def override(self, request: LoggedRequest) -> Override | None:
        """The first queued fault for the request's path, after its hang; None when there is
        none, or when the fault is a hang only (then the stand-in answers, late)."""
        fault = self._next_fault(request.path)
        if fault is None:
            return None
        self.wait(fault.hang)
        if fault.status is None:
            return None
        return fault.status, fault.body, fault.headers, fault.byte_interval

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for queued in self._faults:
                if path.startswith(queued.path_prefix):
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self._faults.remove(queued)
                    return queued.fault
        return None
