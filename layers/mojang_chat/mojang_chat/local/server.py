"""The local HTTP server: each request becomes an API Gateway HTTP API (payload 2.0) event
(``local.events``), handed to the very ``lambda_handler`` that Lambda runs, and its response is
written back.

Which handler answers is read from template.yaml (``local.template``). The server adds one page
of its own, ``GET /``: the demo page with the chat widget (``local.demo``).

As Lambda, it runs several invocations of a function at once, each in a container of its own
(``core.isolation``): its own resolver, clients and logger keys, never shared with a concurrent
invocation. A function has up to ``DEFAULT_CONCURRENCY`` containers; an invocation that finds
them all busy waits for one.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import io
import ipaddress
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from mojang_chat.core import isolation
from mojang_chat.local.demo import demo_page
from mojang_chat.local.events import (
    LambdaContext,
    Reply,
    Request,
    build_event,
    error_reply,
    json_reply,
    lambda_response,
)
from mojang_chat.local.template import Application

# What API Gateway accepts in a request body (HTTP APIs: 10 MB); the handlers refuse more than
# http.limits.MAX_BODY_BYTES themselves, so their own 413 is what a client sees below this.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Host names the server answers to besides its own --host and IP addresses: a DNS name that
# resolves to this machine (DNS rebinding) must not reach the API from a stranger's page.
LOOPBACK_NAMES = ("localhost",)
# Methods whose requests carry a body: one of unknown length (chunked, none given) gets 411.
BODY_METHODS = ("POST", "PUT", "PATCH")
# Containers per function, as a function's reserved concurrency on Lambda: that many of its
# invocations run at once; more wait for a container to be free.
DEFAULT_CONCURRENCY = 10
# Connections the kernel queues before the server accepts them (socketserver's default of 5
# reset a burst of 50 parallel clients).
LISTEN_BACKLOG = 128
# Seconds a request's line, headers and body have to arrive, counted from its first byte: a
# client that stalls or trickles mid-request is answered 408 (or, before its headers are in,
# disconnected) and holds a thread no longer.
REQUEST_READ_SECONDS = 10.0
# Seconds a connection waits for the first byte of a request (a kept-alive one, its next).
IDLE_SECONDS = 60.0


class PortInUse(OSError):
    """The port is taken by another program; the message says what to do."""


class FunctionContainers:
    """One function's containers: an invocation takes an idle one (the last freed, warm), or
    starts a new one while fewer than ``limit`` exist, or waits its turn (first come, first
    served) for one to be freed."""

    def __init__(self, logical_id: str, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"{logical_id}: the concurrency must be at least 1, not {limit}")
        self.logical_id = logical_id
        self.limit = limit
        self.started = 0  # containers made so far (cold starts)
        self.in_flight = 0
        self.peak = 0  # the most invocations that ran at once
        self._idle: list[isolation.Container] = []
        self._waiting: collections.deque[_Turn] = collections.deque()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def take(self) -> Iterator[isolation.Container]:
        """A container of this function, for one invocation."""
        turn: _Turn | None = None
        with self._lock:
            if self._idle:
                container = self._idle.pop()
            elif self.started < self.limit:
                self.started += 1
                container = isolation.Container(f"{self.logical_id}-{self.started}")
            else:
                turn = _Turn()
                self._waiting.append(turn)
            if turn is None:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
        if turn is not None:
            container = turn.wait()  # in flight from the hand-over on
        try:
            yield container
        finally:
            with self._lock:
                if self._waiting:  # one invocation ends, the next begins: as many in flight
                    self._waiting.popleft().give(container)
                else:
                    self.in_flight -= 1
                    self._idle.append(container)


class _Turn:
    """An invocation waiting for a container, handed one directly when it is freed (so a
    newcomer cannot take it first)."""

    def __init__(self) -> None:
        self._given = threading.Event()
        self._container: isolation.Container | None = None

    def give(self, container: isolation.Container) -> None:
        self._container = container
        self._given.set()

    def wait(self) -> isolation.Container:
        self._given.wait()
        assert self._container is not None
        return self._container


class LocalApi:
    """The template's HTTP API in this process: routes a request, invokes the function in one
    of its containers (at most ``concurrency`` invocations of a function at once)."""

    def __init__(
        self, app: Application, concurrency: int = DEFAULT_CONCURRENCY, *, tracebacks: bool = True
    ) -> None:
        self.app = app
        self.containers = {name: FunctionContainers(name, concurrency) for name in app.functions}
        # A server's log shows where a function failed; a terminal's transcript (``ask``) only
        # what failed, one line per failure: the run's own error follows on its last line.
        self.tracebacks = tracebacks

    def invoke_function(
        self, logical_id: str, event: Mapping[str, Any], request_id: str | None = None
    ) -> Any:
        """Call one function's handler with ``event`` in one of its containers, as Lambda
        would (also used by the in-process Step Functions tasks). A failure is printed with
        its traceback on stderr, as Lambda logs it, and raised."""
        function = self.app.functions[logical_id]
        handler = function.handler()
        with self.containers[logical_id].take() as container, isolation.inside(container):
            # The function's Timeout counts from here, once a container has it, as on Lambda.
            context = LambdaContext(function, request_id)
            try:
                return handler(dict(event), context)
            except Exception as error:
                # Not the exceptions it was raised from: an upstream's own message (a model's
                # 401 echoes the key it was sent) stays out of the log, as the package's
                # errors keep it out of theirs.
                if self.tracebacks:
                    trace = "".join(traceback.format_exception(error, chain=False))
                else:
                    trace = "".join(traceback.format_exception_only(error))
                sys.stderr.write(
                    f"[ERROR] {logical_id} RequestId: {context.aws_request_id} failed:\n{trace}"
                )
                raise

    def handle(self, request: Request) -> Reply:
        """Answer one HTTP request the way API Gateway and Lambda together would."""
        request_id = str(uuid.uuid4())
        path = urlsplit(request.target).path or "/"
        found = self.app.find(request.method, path)
        if found is None:
            methods = self.app.methods_of(path)
            if methods:
                allowed = ", ".join(methods)
                message = f"{request.method} {path} is not allowed: it takes {allowed}"
                return error_reply(
                    path, 405, "method_not_allowed", message, request_id, {"Allow": allowed}
                )
            return error_reply(path, 404, "not_found", f"no route for {path}", request_id)
        route, params = found
        event = build_event(request, route, params, request_id)
        try:
            result = self.invoke_function(route.function, event, request_id)
        except Exception:
            # API Gateway hides the function's failure from the caller behind its own bare
            # body, whatever the route's shape (as deployed: the log shows the traceback).
            return json_reply(500, {"message": "Internal Server Error"}, request_id)
        return lambda_response(result, request_id)


class LocalServer(ThreadingHTTPServer):
    """The HTTP server: the demo page at ``/``, every other request through ``LocalApi``."""

    daemon_threads = True
    # Not SO_REUSEADDR's Linux meaning alone: a second server on a taken port must fail.
    allow_reuse_address = False

    # Connections are tracked here (their threads joined by server_close), not by the mix-in.
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        api: LocalApi,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        quiet: bool = False,
        read_seconds: float = REQUEST_READ_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.api = api
        self.quiet = quiet
        self.read_seconds = read_seconds
        self.idle_seconds = idle_seconds
        self.mode = "runs"
        self.notice: str | None = None  # a line for the demo page (the offline demo's)
        self.host = host
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        try:
            super().__init__((host, port), _RequestHandler)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(
                    error.errno,
                    f"port {port} on {host} is already in use: stop the program using it, or "
                    f"choose another port with --port",
                ) from None
            raise

    @property
    def url(self) -> str:
        """``http://host:port`` of this server."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def allows_host(self, value: str | None) -> bool:
        """Whether a request's ``Host`` header names this server: a loopback name, its own
        --host, or an IP address (which no DNS rebinding can point elsewhere). No header: an
        HTTP/1.0 client, not a browser."""
        if value is None:
            return True
        host = value.strip().lower()
        if host.startswith("["):  # [::1]:3000
            name, bracket, rest = host[1:].partition("]")
            if not bracket or (rest and not _port(rest.removeprefix(":"))):
                return False
        else:
            name, colon, port = host.rpartition(":") if ":" in host else (host, "", "")
            if colon and not _port(port):
                return False
        name = name.removesuffix(".")
        if name in LOOPBACK_NAMES or name == self.host.lower().strip("[]"):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, as ThreadingHTTPServer, tracked until it ends."""
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def server_close(self, timeout: float = 30) -> None:
        """Stop listening, end every open connection (kept-alive ones wait for a request that
        will not come) and wait up to ``timeout`` seconds for the requests in progress."""
        super().server_close()
        with self._connections_lock:
            connections = dict(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        ends = time.monotonic() + timeout
        for thread in connections.values():
            thread.join(max(ends - time.monotonic(), 0))

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return  # the browser went away: routine
        super().handle_error(request, client_address)


def _port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


class _TimedReader(io.BufferedReader):
    """A connection's input read against a deadline rather than a per-read timeout: every wait
    for more bytes gets only the time left, so a client that trickles a byte at a time is cut
    off as surely as one that stalls (a socket timeout alone starts again at every byte)."""

    def __init__(self, raw: io.RawIOBase, connection: socket.socket) -> None:
        super().__init__(raw)
        self._connection = connection
        self.deadline: float | None = None  # None: the socket's own timeout applies

    def _allow_wait(self) -> None:
        if self.deadline is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._connection.settimeout(left)

    def readline(self, size: int | None = -1) -> bytes:
        """A line (up to ``size`` bytes), by the deadline."""
        limit = -1 if size is None else size
        line = bytearray()
        while limit < 0 or len(line) < limit:
            self._allow_wait()
            buffered = self.peek(1)  # waits for bytes only when none are buffered
            if not buffered:
                break
            wanted = len(buffered) if limit < 0 else min(len(buffered), limit - len(line))
            end = buffered.find(b"\n", 0, wanted)
            line += super().read(wanted if end < 0 else end + 1)
            if end >= 0:
                break
        return bytes(line)

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (fewer if the client closes), by the deadline."""
        if size is None or size < 0:
            raise ValueError("read a request body by its length")
        data = bytearray()
        while len(data) < size:
            self._allow_wait()
            chunk = self.read1(size - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mojang-chat-local"
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK, ~40 ms added to every keep-alive response.
    disable_nagle_algorithm = True
    sys_version = ""
    rbufsize = 0  # setup() makes the raw input, which _TimedReader buffers
    server: LocalServer
    rfile: _TimedReader

    def setup(self) -> None:
        super().setup()
        self.rfile = _TimedReader(cast(io.RawIOBase, self.rfile), self.connection)

    def handle_one_request(self) -> None:
        """Wait up to ``idle_seconds`` for a request to begin, then give it ``read_seconds``
        to arrive (a timeout closes the connection; one mid-body is answered 408 first)."""
        self.rfile.deadline = None
        self.connection.settimeout(self.server.idle_seconds)
        try:
            begun = self.rfile.peek(1)
        except OSError:  # the wait timed out, or the client or server_close ended it
            begun = b""
        if not begun:
            self.close_connection = True
            return
        self.rfile.deadline = time.monotonic() + self.server.read_seconds
        super().handle_one_request()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path not in ("/", "/index.html"):
            self._forward()
            return
        if self._refused() or self._read_body() is None:
            return
        # ?mode=chat, ?mode=runs or ?mode=responses tries another way of asking without a
        # restart.
        mode = dict(parse_qsl(parts.query)).get("mode", self.server.mode)
        mode = mode if mode in ("chat", "responses") else "runs"
        # No endpoint: the widget asks the origin its script came from, which is this server
        # at whatever address the browser reached it (an HTTPS port forward included).
        body = demo_page("", mode, self.server.notice)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
        self._write(Reply(200, headers, body))

    def _forward(self) -> None:
        started = time.monotonic()
        if self._refused():
            return
        body = self._read_body()
        if body is None:
            return
        request = Request(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        reply = self.server.api.handle(request)
        self._write(reply)
        if not self.server.quiet:
            elapsed = time.monotonic() - started
            sys.stderr.write(f"{self.command} {self.path} {reply.status} {elapsed:.2f}s\n")

    def _refused(self) -> bool:
        """Answer 421 (and True) when the Host header names another server."""
        if self.server.allows_host(self.headers.get("Host")):
            return False
        message = (
            "Misdirected Request: this server answers to localhost, its IP addresses and "
            f"{self.server.host}, not to {self.headers.get('Host')!r}"
        )
        self._fail(421, "misdirected_request", message)
        return True

    def _read_body(self) -> bytes | None:
        """The request body, read by its Content-Length; None once an error is answered (the
        connection is then closed: the rest of the stream cannot be trusted)."""
        if "chunked" in ",".join(self.headers.get_all("Transfer-Encoding") or []).lower():
            message = "Length Required: send the body with a Content-Length, not chunked"
            self._fail(411, "length_required", message)
            return None
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            if self.command in BODY_METHODS:
                self._fail(411, "length_required", "Length Required: send a Content-Length")
                return None
            return b""
        value = lengths.pop()
        if lengths or not (value.isascii() and value.isdigit()):
            self._fail(400, "invalid_request", "Bad Request: invalid Content-Length")
            return None
        length = int(value)
        if length > MAX_REQUEST_BYTES:
            self._fail(413, "request_too_large", "Request Entity Too Large")
            return None
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self._fail(
                408,
                "request_timeout",
                f"Request Timeout: the body did not arrive within "
                f"{self.server.read_seconds:g} seconds",
            )
            return None
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        return body

    def _fail(self, status: int, error_type: str, message: str) -> None:
        self.close_connection = True
        path = urlsplit(self.path).path or "/"
        self._write(error_reply(path, status, error_type, message, "local"))

    def _write(self, reply: Reply) -> None:
        # The request is in (or given up on): a client gets the idle time to take the answer.
        self.rfile.deadline = None
        self.connection.settimeout(self.server.idle_seconds)
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    # Every other method API Gateway forwards goes to the functions.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _forward logs one line per API request


def default_template() -> Path:
    """template.yaml of the checkout this package is installed from (editable install)."""
    return Path(__file__).resolve().parents[4] / "template.yaml"


@contextlib.contextmanager
def running(
    template: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    quiet: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
    read_seconds: float = REQUEST_READ_SECONDS,
) -> Iterator[LocalServer]:
    """The local server on a background thread (tests, the offline demo), with the local
    AWS services the template needs; stopped and cleaned up on exit."""
    from mojang_chat import container
    from mojang_chat.local.aws import local_aws

    app = Application.from_file(template or default_template())
    api = LocalApi(app, concurrency)
    with local_aws(app, api.invoke_function):
        container.reset()  # the clients are made anew from the environment set above
        try:
            with serving(api, host, port, quiet=quiet, read_seconds=read_seconds) as server:
                yield server
        finally:
            container.reset()


@contextlib.contextmanager
def serving(
    api: LocalApi,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    quiet: bool = True,
    read_seconds: float = REQUEST_READ_SECONDS,
) -> Iterator[LocalServer]:
    """``api`` served on a background thread (whatever AWS services it needs already set up);
    stopped on exit."""
    server = LocalServer(api, host, port, quiet=quiet, read_seconds=read_seconds)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()  # ends the kept-alive connections and joins their threads
        thread.join(timeout=5)
