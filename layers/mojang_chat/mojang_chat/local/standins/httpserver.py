"""The base of the stand-ins: one HTTP server on a free 127.0.0.1 port, served from a daemon
thread, started and stopped by its owner (or used as a context manager).

A stand-in subclasses ``StandInServer`` and names its ``handler``, a ``StandInHandler`` that
reaches the stand-in's state through ``self.standin``.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

S = TypeVar("S", bound="StandInServer")

# Connections waiting to be accepted: socketserver's default of 5 refuses (or, with SYN
# cookies, delays by a second) the sixth of a burst of parallel tool calls or benchmark clients.
LISTEN_BACKLOG = 128


class StandInHandler(BaseHTTPRequestHandler, Generic[S]):
    """A request handler of a stand-in: keep-alive HTTP/1.1, Nagle off, no access log."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real services: clients pool connections
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK, ~40 ms added to every keep-alive response (and to every benchmark).
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection does not hold a thread forever
    server: _HTTPServer[S]

    @property
    def standin(self) -> S:
        """The stand-in this request is for: its script, players and records."""
        return self.server.standin

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stand-ins record requests instead, and a terminal is for the app's logs."""


class _HTTPServer(ThreadingHTTPServer, Generic[S]):
    daemon_threads = True  # a handler that hangs on purpose never blocks stop()
    request_queue_size = LISTEN_BACKLOG
    # A second stand-in must never share a port with the first.
    allow_reuse_address = False

    def __init__(self, standin: S, handler: type[StandInHandler[S]]) -> None:
        self.standin = standin
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection: a thread waiting for the next keep-alive request reads
        EOF and ends, instead of holding the stand-in open until its client goes away."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that gave up (timeout, disconnect) is routine, not worth a trace
        super().handle_error(request, client_address)


class StandInServer:
    """A stand-in HTTP service on 127.0.0.1: ``start()``/``stop()`` or ``with``; ``url`` while
    it runs. ``latency`` (seconds) is what ``wait`` adds to each answer where a subclass asks."""

    handler: ClassVar[type[StandInHandler[Any]]]
    thread_name: ClassVar[str] = "stand-in"

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self._lock = threading.Lock()  # guards the subclasses' state, shared by handler threads
        self._stopping = threading.Event()
        self._httpd: _HTTPServer[Any] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError(f"the {self.thread_name} server is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer(self, self.handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake the handlers that wait (hangs, latency) and close open
        connections. Nothing happens when it is not running."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._httpd is None:
            raise RuntimeError(f"the {self.thread_name} server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the stand-in stops first; True when it is stopping (the
        handler should then drop the request)."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()
