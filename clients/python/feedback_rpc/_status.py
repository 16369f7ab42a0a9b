"""Status codes and the one exception type of feedback-rpc (protocol/SPEC.md section 10)."""
from __future__ import annotations

import enum
from typing import Any


class NamedIntEnum(enum.IntEnum):
    """An ``IntEnum`` that prints as its name (``print(HealthStatus.SERVING)`` shows ``SERVING``), where a plain
    ``IntEnum`` prints its number on Python 3.11 and later. ``format(member, "d")`` still gives the number."""

    def __str__(self) -> str:
        return self.name

    def __format__(self, format_spec: str) -> str:
        return self.name if not format_spec else int.__format__(int(self), format_spec)


class StatusCode(NamedIntEnum):
    """gRPC's 17 canonical status codes, with gRPC's numbers and names."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def from_wire(cls, value: int) -> StatusCode:
        """A received code; values this version does not know read as UNKNOWN (SPEC.md section 6)."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class RpcError(Exception):
    """A call that did not succeed: its status code, message and structured details.

    Raised as the subclass matching the code when there is one (``NotFoundError`` for NOT_FOUND, ...),
    so ``except feedback_rpc.NotFoundError`` and ``except feedback_rpc.RpcError`` both work.
    """

    code: StatusCode
    message: str
    details: list[Any]
    request_id: str | None

    def __init__(
        self, code: StatusCode, message: str, details: list[Any] | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id

    def __new__(
        cls, code: StatusCode, message: str, details: list[Any] | None = None, request_id: str | None = None
    ) -> RpcError:
        target = _SUBCLASSES.get(code, cls) if cls is RpcError else cls
        return super().__new__(target)

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED), or the
        outcome is unknown (UNKNOWN: the call may have taken effect; every feedbackd method is idempotent, so
        sending it again is safe)."""
        return self.code in (
            StatusCode.UNAVAILABLE, StatusCode.RESOURCE_EXHAUSTED, StatusCode.DEADLINE_EXCEEDED, StatusCode.UNKNOWN
        )


class InvalidArgumentError(RpcError):
    """INVALID_ARGUMENT: e.g. a rating other than 1 or -1."""


class NotFoundError(RpcError):
    """NOT_FOUND: no such interaction."""


class UnauthenticatedError(RpcError):
    """UNAUTHENTICATED: the token is missing, malformed, expired or badly signed."""


class PermissionDeniedError(RpcError):
    """PERMISSION_DENIED: the token lacks a required scope, or the peer is not allowed."""


class UnavailableError(RpcError):
    """UNAVAILABLE: feedbackd or its store cannot serve now; retry with backoff."""


class DeadlineExceededError(RpcError):
    """DEADLINE_EXCEEDED: the call's timeout passed; the rating may or may not be stored."""


_SUBCLASSES: dict[StatusCode, type[RpcError]] = {
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    StatusCode.UNAVAILABLE: UnavailableError,
    StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}
