"""The Powertools logger, tracer and metrics every module of the package reports through.

One instance each per process; the service name comes from POWERTOOLS_SERVICE_NAME (set by the
template), the namespace from POWERTOOLS_METRICS_NAMESPACE, with defaults for local use.

Tracing is opt-in at import: Powertools' ``Tracer()`` imports the X-Ray SDK, and with it
botocore (about 0.4 s, half of a cold start), even when it then finds tracing disabled. So
``tracer`` is a stand-in with the same call sites (``capture_lambda_handler``,
``capture_method``, ``provider.in_subsegment``) that creates the real ``Tracer`` only where
traces are recorded: in Lambda with tracing not switched off (Powertools' own rule, see
``tracing_enabled``). There it is created at import, during the function's init phase, which
runs at full CPU before the first request; everywhere else nothing of X-Ray is ever imported.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from mojang_chat.core import isolation

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME") or "mojang-chat"
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE") or "MojangChat"
F = TypeVar("F", bound=Callable[..., Any])


class _ContainerFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log formatter, with the keys the logger appends (the invocation's
    request id and correlation id, the function's name) kept per container
    (``core.isolation``), as Lambda keeps them: the local server's concurrent invocations each
    log their own, never another's. A new container starts from ``initial``, the keys the
    logger was made with."""

    initial: dict[str, Any] = {}  # noqa: RUF012 (replaced, never changed in place)

    @property
    def log_format(self) -> dict[str, Any]:
        return isolation.current().get(self, lambda: dict(self.initial))

    @log_format.setter
    def log_format(self, value: dict[str, Any]) -> None:
        isolation.current().set(self, value)


_formatter = _ContainerFormatter()
logger = Logger(service=SERVICE, logger_formatter=_formatter)
_formatter.initial = dict(_formatter.log_format)


class _LockedEMFProvider(AmazonCloudWatchEMFProvider):
    """Powertools' CloudWatch EMF metrics, safe to add to from several threads.

    Tool calls count their metrics on worker threads, and one may still be running (past the
    deadline) while the handler flushes; Powertools keeps the metrics in a plain dict, so adding
    during the flush raised "dictionary changed size during iteration".
    """

    _lock = threading.RLock()

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            super().add_metric(*args, **kwargs)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        with self._lock:
            super().flush_metrics(raise_on_empty_metrics)


# The provider shares Metrics' class-level sets, as the one Metrics() would make itself does.
metrics = Metrics(
    provider=_LockedEMFProvider(
        namespace=NAMESPACE,
        service=SERVICE,
        metric_set=Metrics._metrics,
        dimension_set=Metrics._dimensions,
        metadata_set=Metrics._metadata,
        default_dimensions=Metrics._default_dimensions,
    )
)


def tracing_enabled() -> bool:
    """Whether traces are recorded, by the rule Powertools' ``Tracer`` applies: not when
    POWERTOOLS_TRACE_DISABLED is true, and only inside Lambda (LAMBDA_TASK_ROOT set), never under
    ``sam local`` or ``chalice local``, where no X-Ray daemon listens."""
    disabled = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in ("1", "true", "yes", "on", "y", "t"):
        return False
    if not os.getenv("LAMBDA_TASK_ROOT"):
        return False
    return not (os.getenv("AWS_SAM_LOCAL") or os.getenv("AWS_CHALICE_CLI_MODE"))


class _NoSubsegments:
    """The provider when tracing is off: ``in_subsegment`` is an empty context."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[None]:
        yield None


class LazyTracer:
    """Powertools' ``Tracer`` where traces are recorded, a pass-through everywhere else.

    The decorators decide when they are applied (at import, as ``Tracer()`` itself does):
    with tracing off they return the function unchanged, so a request pays nothing for them.
    """

    def __init__(self, service: str, *, enabled: bool | None = None) -> None:
        self.service = service
        self._enabled = enabled
        self._tracer: Tracer | None = None
        if self.enabled:
            self.real()  # in Lambda's init phase, not in the first request

    @property
    def enabled(self) -> bool:
        """Whether this process records traces (decided once, on first use)."""
        if self._enabled is None:
            self._enabled = tracing_enabled()
        return self._enabled

    def real(self) -> Tracer:
        """The Powertools tracer (imports the X-Ray SDK on first use)."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.service)
        return self._tracer

    @property
    def provider(self) -> Any:
        """The tracing provider (``xray_recorder``), or one whose subsegments are no-ops."""
        return self.real().provider if self.enabled else _NoSubsegments()

    def capture_lambda_handler(self, handler: F) -> F:
        """``Tracer.capture_lambda_handler``: the handler in a subsegment, cold start noted.
        Never with its response: that holds the answer, tool payloads and player names, which
        stay out of traces as they stay out of logs."""
        if not self.enabled:
            return handler
        return cast(F, self.real().capture_lambda_handler(handler, capture_response=False))

    @overload
    def capture_method(self, method: F) -> F: ...

    @overload
    def capture_method(
        self, method: None = None, *, capture_response: bool | None = None
    ) -> Callable[[F], F]: ...

    def capture_method(
        self, method: F | None = None, *, capture_response: bool | None = None
    ) -> F | Callable[[F], F]:
        """``Tracer.capture_method``: the method in a subsegment of its own."""

        def decorate(function: F) -> F:
            if not self.enabled:
                return function
            return self.real().capture_method(capture_response=capture_response)(function)

        return decorate if method is None else decorate(method)


tracer = LazyTracer(SERVICE)


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the counter metric ``name`` (flushed at the end of the invocation)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
