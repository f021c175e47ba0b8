"""What one Lambda container keeps between its invocations (its clients, its resolvers, the
logger's keys), and the container an invocation runs in.

On Lambda a process is one container serving one invocation at a time: everything lives in
``PROCESS`` and nothing here changes how the code behaves. The local server runs several
containers of a function in one process, as Lambda runs several containers side by side: it
runs each invocation ``inside`` one of them, so that two concurrent invocations never share a
resolver (Powertools keeps the current event on it), a cached client or the logger's keys.

The current container is a context variable: each thread starts in ``PROCESS``, and
``ContainerExecutor`` carries the submitting invocation's container into its worker threads.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class Container:
    """One container's state: values made once (by ``get``) and kept until ``clear``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._values: dict[object, Any] = {}
        # One value per key even when two threads of one invocation (tool calls) ask at once.
        self._lock = threading.RLock()
        _containers.add(self)

    def get(self, key: object, make: Callable[[], T]) -> T:
        """The value kept under ``key``, made by ``make`` on first use."""
        try:
            value: T = self._values[key]
        except KeyError:
            with self._lock:
                if key not in self._values:
                    self._values[key] = make()
                value = self._values[key]
        return value

    def set(self, key: object, value: object) -> None:
        """Keep ``value`` under ``key``, in place of any earlier one."""
        with self._lock:
            self._values[key] = value

    def clear(self) -> None:
        """Forget every value (the next ``get`` makes it anew, as in a fresh container)."""
        with self._lock:
            self._values.clear()

    def __repr__(self) -> str:
        return f"Container({self.name!r})"


_containers: weakref.WeakSet[Container] = weakref.WeakSet()
PROCESS = Container("process")
_current: contextvars.ContextVar[Container] = contextvars.ContextVar(
    "mojang_chat_container", default=PROCESS
)


def current() -> Container:
    """The container the running invocation belongs to (``PROCESS`` outside the local server)."""
    return _current.get()


@contextlib.contextmanager
def inside(container: Container) -> Iterator[Container]:
    """Run the block as an invocation of ``container``."""
    token = _current.set(container)
    try:
        yield container
    finally:
        _current.reset(token)


def clear_all() -> None:
    """Forget the values of every container (the process's and the local server's)."""
    for container in list(_containers):
        container.clear()


class ContainerExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in the context of the code that submitted them: a tool
    call belongs to its invocation's container and logs with its request id."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        run = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return super().submit(run)
