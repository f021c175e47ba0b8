"""What every other part of the package stands on, importing nothing else of ours: the settings,
the request deadline, observability (logger, tracer, metrics), the run statuses, and what each
container keeps (``isolation``)."""

from mojang_chat.core.deadline import Deadline, DeadlineExceeded, LambdaContextLike
from mojang_chat.core.observability import count, logger, metrics, tracer
from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured, Settings, get_settings
from mojang_chat.core.statuses import TERMINAL_STATUSES, RunStatus

__all__ = [
    "TERMINAL_STATUSES",
    "ConfigurationError",
    "Deadline",
    "DeadlineExceeded",
    "LambdaContextLike",
    "ModelNotConfigured",
    "RunStatus",
    "Settings",
    "count",
    "get_settings",
    "logger",
    "metrics",
    "tracer",
]
