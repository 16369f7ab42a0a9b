"""Python client for feedbackd, the feedback-rpc server (protocol/SPEC.md).

    from feedback_rpc import Client, RpcError, StatusCode

    with Client("/run/feedback/feedback.sock") as client:
        client.submit_feedback(42, 1, token=jwt)
        for event in client.iter_feedback_events(after=cursor, token=read_jwt):
            ...
"""

from importlib import metadata as _metadata

from ._calls import FeedbackEvent, FeedbackEventsPage, HealthStatus, MethodDescription, ServiceDescription
from ._status import (
    DeadlineExceededError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RpcError,
    StatusCode,
    UnauthenticatedError,
    UnavailableError,
)
from .aio import AsyncClient
from .client import Client

__all__ = [
    "AsyncClient",
    "Client",
    "DeadlineExceededError",
    "FeedbackEvent",
    "FeedbackEventsPage",
    "HealthStatus",
    "InvalidArgumentError",
    "MethodDescription",
    "NotFoundError",
    "PermissionDeniedError",
    "RpcError",
    "ServiceDescription",
    "StatusCode",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
]

try:
    __version__ = _metadata.version("feedback-rpc")
    """The installed distribution's version: pyproject.toml's ``version``, the only place it is written."""
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
