"""Python client for feedbackd, the feedback-rpc server (protocol/SPEC.md).

    from feedback_rpc import Client, RpcError, StatusCode

    with Client("/run/feedback/feedback.sock") as client:
        client.submit_feedback(42, 1, token=jwt)
        for event in client.iter_feedback_events(after=cursor, token=read_jwt):
            ...
"""
from ._calls import FeedbackEvent, FeedbackEventsPage, HealthStatus
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
    "NotFoundError",
    "PermissionDeniedError",
    "RpcError",
    "StatusCode",
    "UnauthenticatedError",
    "UnavailableError",
]
__version__ = "1.0.0"
