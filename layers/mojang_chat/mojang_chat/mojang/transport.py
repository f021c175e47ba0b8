"""HTTP to the Mojang hosts: one logical request at a time, bounded in size, by the request's
deadline and by a few retries.

Status mapping (``reference/mojang-api.md``): 200 is decoded, 204 and 404 mean "not found", 400
means Mojang rejected the input; 403 (the WAF's HTML page), 408, 429, 5xx, timeouts, connection
errors and malformed or oversized bodies are transient: retried with capped exponential back-off
(or the ``Retry-After`` Mojang asks for), then ``UpstreamError``. Any other status is a contract
change or our own bug, and fails at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from mojang_chat.core.deadline import Deadline, DeadlineExceeded, call_by
from mojang_chat.core.observability import count, logger, tracer
from mojang_chat.core.settings import Settings
from mojang_chat.mojang.decoding import upstream_message
from mojang_chat.mojang.errors import UpstreamError
from mojang_chat.mojang.limiter import RateLimiter

T = TypeVar("T")

USER_AGENT = "mojang-chat/0.1"
# The most one read of a body asks for: a read returns what the socket has, up to this.
READ_SIZE = 65536


@dataclass(frozen=True)
class MojangRequest(Generic[T]):
    """One logical request: what to send, how to decode a 200 body, and the endpoint's name,
    which traces, logs and metrics show instead of the URL (a URL holds a player's name)."""

    method: str
    url: str
    endpoint: str
    decode: Callable[[Any], T]
    body: bytes | None = None


@dataclass(frozen=True)
class Rejected:
    """A 400 answer: Mojang considers the input invalid; ``message`` is its reason."""

    message: str


class _Transient(Exception):
    """One failed attempt that may succeed if retried."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: not worth a clock comparison; the normal back-off applies
    return seconds if seconds >= 0 else None


def _transient_for_status(status: int, response: requests.Response) -> _Transient | None:
    if status == 403:
        return _Transient("blocked by Mojang's firewall (HTTP 403)", status)
    if status == 429:
        return _Transient("rate limited (HTTP 429)", status, _retry_after(response))
    if status == 408 or 500 <= status <= 599:
        return _Transient(f"server error (HTTP {status})", status, _retry_after(response))
    return None


def _new_session(concurrency: int) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    # Enough pooled connections per host for the concurrent requests; retries are ours.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=concurrency * 2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Transport:
    """The Mojang hosts behind one pooled ``requests.Session``, which the transport owns.

    ``sleep`` is the back-off sleep (injected by tests). A ``Retry-After`` header longer than
    ``max_retry_after`` seconds ends the retries at once: waiting that long cannot help a chat
    request.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: float = 4.0,
        max_retries: int = 2,
        backoff: float = 0.25,
        max_backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        max_body_bytes: int = 1_000_000,
        max_retry_after: float = 10.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._session = session
        self.timeout = timeout
        self.max_retries = max(max_retries, 0)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.max_body_bytes = max_body_bytes
        self.max_retry_after = max_retry_after
        self.limiter = limiter

    @classmethod
    def from_settings(
        cls, settings: Settings, *, concurrency: int, limiter: RateLimiter | None = None
    ) -> Transport:
        """A transport configured from ``settings``, with its own session (our User-Agent,
        pooled connections for ``concurrency`` requests at a time); every request it sends
        (retries included) waits for ``limiter`` first."""
        return cls(
            _new_session(concurrency),
            timeout=settings.mojang_timeout_seconds,
            max_retries=settings.mojang_max_retries,
            limiter=limiter,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def fetch(self, request: MojangRequest[T], *, deadline: Deadline | None) -> T | Rejected | None:
        """One logical request: the decoded 200 body, ``Rejected`` for 400, None for 204/404;
        transient failures retried with capped exponential back-off, then ``UpstreamError``."""
        # A subsegment per upstream call, not @tracer.capture_method on the public methods: that
        # decorator logs every exception at ERROR, and an InvalidInputError message holds the
        # player's name.
        with tracer.provider.in_subsegment(name=f"## mojang.{request.endpoint}"):
            attempt = 0
            while True:
                if self.limiter is not None:
                    # Before the attempt, outside its time bound: the wait is the limiter's,
                    # and a RateLimitedError is final (retrying sooner cannot help).
                    self.limiter.acquire(deadline)
                try:
                    return self._bounded_attempt(request, deadline)
                except _Transient as failure:
                    if failure.status == 429 and self.limiter is not None:
                        self.limiter.rate_limited(failure.retry_after)
                    delay = failure.retry_after
                    if delay is None:
                        delay = min(self.backoff * 2**attempt, self.max_backoff)
                    give_up = (
                        attempt >= self.max_retries
                        or delay > self.max_retry_after
                        # A retry whose back-off would not fit in the deadline is not started.
                        or (deadline is not None and delay >= deadline.remaining())
                    )
                    logger.warning(
                        "Mojang request failed",
                        extra={
                            "endpoint": request.endpoint,
                            "reason": failure.reason,
                            "attempt": attempt + 1,
                            "retrying": not give_up,
                        },
                    )
                    if give_up:
                        count("MojangUpstreamErrors")
                        raise UpstreamError(failure.reason, failure.status) from failure
                    count("MojangRetries")
                    self._sleep(delay)
                    attempt += 1

    def _bounded_attempt(
        self, request: MojangRequest[T], deadline: Deadline | None
    ) -> T | Rejected | None:
        """One attempt, ended by ``timeout`` seconds or the deadline, whichever comes first,
        whatever the server does: a socket timeout bounds each read, and a server sending a
        byte at a time would never trip it."""
        bound = Deadline(self.timeout) if deadline is None else deadline.within(self.timeout)
        try:
            return call_by(bound, "a Mojang request", partial(self._attempt, request, bound))
        except DeadlineExceeded:
            raise _Transient("timed out") from None

    def _attempt(self, request: MojangRequest[T], deadline: Deadline | None) -> T | Rejected | None:
        timeout = self.timeout
        if deadline is not None:
            remaining = deadline.remaining()
            if remaining <= 0:
                count("MojangUpstreamErrors")
                raise UpstreamError("timed out (no time left for the request)")
            timeout = min(timeout, remaining)
        headers = {"Accept": "application/json"}
        if request.body is not None:
            headers["Content-Type"] = "application/json"  # without it Mojang answers 415

        count("MojangRequests")
        logger.debug(
            "Mojang request", extra={"endpoint": request.endpoint, "method": request.method}
        )
        try:
            response = self._session.request(
                request.method,
                request.url,
                data=request.body,
                headers=headers,
                timeout=timeout,
                stream=True,  # so an oversized body is cut off, not read into memory
                allow_redirects=False,
            )
        except requests.Timeout as error:
            raise _Transient("timed out") from error
        except requests.RequestException as error:
            raise _Transient("connection failed") from error

        with response:
            status = response.status_code
            if status in (204, 404):
                return None
            if status == 400:
                try:
                    return Rejected(upstream_message(json.loads(self._read(response, deadline))))
                except (_Transient, ValueError):
                    return Rejected("no reason given")
            transient = _transient_for_status(status, response)
            if transient is not None:
                raise transient
            if status != 200:
                # 3xx, 401, 415...: a contract change or our own bug; retrying cannot help.
                count("MojangUpstreamErrors")
                raise UpstreamError(f"unexpected response (HTTP {status})", status)
            raw = self._read(response, deadline)
            try:
                return request.decode(json.loads(raw))
            except ValueError as error:  # includes JSONDecodeError and the decoders' errors
                raise _Transient("malformed response (HTTP 200)", status) from error

    def _read(self, response: requests.Response, deadline: Deadline | None) -> bytes:
        """The body, at most ``max_body_bytes`` of it, before the deadline."""
        too_large = _Transient("response too large", response.status_code)
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            # read1, not iter_content: iter_content(n) blocks until n bytes have come, so a
            # body trickling in is only noticed when the buffer fills; read1 returns each
            # read's bytes, and the deadline is checked after every one.
            while chunk := response.raw.read1(READ_SIZE, decode_content=True):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise too_large
                if deadline is not None and deadline.expired():
                    raise _Transient("timed out", response.status_code)
                chunks.append(chunk)
        except ReadTimeoutError as error:
            raise _Transient("timed out", response.status_code) from error
        except (Urllib3Error, OSError) as error:
            raise _Transient("connection failed", response.status_code) from error
        return b"".join(chunks)
