"""What the clients share: method paths, request building, turning a RESPONSE into a result or RpcError."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._proto import feedback_pb2, health_pb2, reflection_pb2, status_pb2
from ._protocol import MetadataValue, Request, Response
from ._status import NamedIntEnum, RpcError, StatusCode

SUBMIT_FEEDBACK = "/feedback.v1.FeedbackService/SubmitFeedback"
VERIFY_TOKEN = "/feedback.v1.FeedbackService/VerifyToken"
LIST_FEEDBACK_EVENTS = "/feedback.v1.FeedbackService/ListFeedbackEvents"
WATCH_FEEDBACK_EVENTS = "/feedback.v1.FeedbackService/WatchFeedbackEvents"
RESUME_AFTER_KEY = "resume-after-event-id"
"""The metadata entry of a WatchFeedbackEvents status that did not end OK: the last event id sent."""
RESUMABLE = frozenset({StatusCode.UNAVAILABLE, StatusCode.UNKNOWN})
"""The statuses after which a watch calls again from the last event received: the server went away, or the
connection was lost."""
HEALTH_CHECK = "/feedback.health.v1.Health/Check"
LIST_SERVICES = "/feedback.reflection.v1.Reflection/ListServices"


class HealthStatus(NamedIntEnum):
    """``feedback.health.v1.HealthCheckResponse.ServingStatus``; prints as its name (``SERVING``)."""

    UNKNOWN = 0
    SERVING = 1
    NOT_SERVING = 2
    SERVICE_UNKNOWN = 3


@dataclass(frozen=True)
class FeedbackEvent:
    """One rating of the audit trail (``feedback.v1.FeedbackEvent``)."""

    event_id: int
    """Increasing in the order the ratings were stored: the cursor to resume after."""
    interaction_id: int
    rating: int
    """1 (positive) or -1 (negative)."""
    subject: str
    """The ``sub`` claim of the token that submitted the rating; when the stored bytes are not valid UTF-8
    (written by another tool), their lossy decoding (U+FFFD for each invalid sequence): ``subject_bytes``
    holds them exactly."""
    created_at: str
    """When it was stored, RFC 3339 in UTC, e.g. ``2026-11-30T00:53:41.123Z``."""
    subject_bytes: bytes
    """The subject exactly as stored, always (``subject.encode()`` when it is valid UTF-8)."""


@dataclass(frozen=True)
class FeedbackEventsPage:
    """A page of the ratings feed (``feedback.v1.ListFeedbackEventsResponse``), oldest first."""

    events: tuple[FeedbackEvent, ...]
    next_after_event_id: int
    """The ``after_event_id`` of the next page: the last event's id, or the one asked for when empty."""


@dataclass(frozen=True)
class MethodDescription:
    """One method a server serves (``feedback.reflection.v1.MethodDescription``)."""

    name: str
    """The method's name, e.g. ``SubmitFeedback``."""
    path: str
    """Its path on the wire (the ``:method`` of a REQUEST), e.g. ``/feedback.v1.FeedbackService/SubmitFeedback``."""
    request_type: str
    """The full name of its request message, e.g. ``feedback.v1.SubmitFeedbackRequest``."""
    response_type: str
    """The full name of its response message, e.g. ``feedback.v1.SubmitFeedbackResponse``."""
    requires_token: bool
    """Whether a call needs ``authorization: Bearer <jwt>``."""
    server_streaming: bool = False
    """Whether the method streams its answer (protocol version 2, SPEC.md section 16)."""


@dataclass(frozen=True)
class ServiceDescription:
    """One service a server serves (``feedback.reflection.v1.ServiceDescription``), its methods sorted by name."""

    name: str
    """The full service name, e.g. ``feedback.v1.FeedbackService``."""
    methods: tuple[MethodDescription, ...]


def timeout_ms(timeout: float | None) -> int | None:
    return None if timeout is None else max(0, int(timeout * 1000))


def submit_request(interaction_id: int, rating: int, token: str, timeout: float | None,
                   request_id: str | None, traceparent: str | None) -> Request:
    if not isinstance(interaction_id, int) or isinstance(interaction_id, bool) or not -2**63 <= interaction_id < 2**63:
        raise ValueError("interaction_id must be an int in the signed 64-bit range")
    if not isinstance(rating, int) or isinstance(rating, bool) or not -2**31 <= rating < 2**31:
        raise ValueError("rating must be an int (1 or -1)")
    metadata = token_metadata(token, request_id)
    if traceparent is not None:
        metadata.append(("traceparent", traceparent))
    message = feedback_pb2.SubmitFeedbackRequest(interaction_id=interaction_id, rating=rating).SerializeToString()
    return Request(SUBMIT_FEEDBACK, metadata, message, timeout_ms(timeout))


def token_metadata(token: str, request_id: str | None) -> list[tuple[str, MetadataValue]]:
    metadata: list[tuple[str, MetadataValue]] = [("authorization", f"Bearer {token}")]
    if request_id is not None:
        metadata.append(("x-request-id", request_id))
    return metadata


def verify_request(token: str, timeout: float | None, request_id: str | None) -> Request:
    metadata = token_metadata(token, request_id)
    return Request(VERIFY_TOKEN, metadata, feedback_pb2.VerifyTokenRequest().SerializeToString(), timeout_ms(timeout))


def list_events_request(after_event_id: int, page_size: int, token: str, timeout: float | None,
                        request_id: str | None) -> Request:
    if not isinstance(after_event_id, int) or isinstance(after_event_id, bool) or not -2**63 <= after_event_id < 2**63:
        raise ValueError("after_event_id must be an int in the signed 64-bit range")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not -2**31 <= page_size < 2**31:
        raise ValueError("page_size must be an int (0 to 1000)")
    metadata = token_metadata(token, request_id)
    message = feedback_pb2.ListFeedbackEventsRequest(after_event_id=after_event_id, page_size=page_size)
    return Request(LIST_FEEDBACK_EVENTS, metadata, message.SerializeToString(), timeout_ms(timeout))


def watch_events_request(after_event_id: int, token: str, request_id: str | None) -> Request:
    """WatchFeedbackEvents: no ``:timeout`` (the stream runs until it is stopped)."""
    if not isinstance(after_event_id, int) or isinstance(after_event_id, bool) or not -2**63 <= after_event_id < 2**63:
        raise ValueError("after_event_id must be an int in the signed 64-bit range")
    message = feedback_pb2.WatchFeedbackEventsRequest(after_event_id=after_event_id)
    return Request(WATCH_FEEDBACK_EVENTS, token_metadata(token, request_id), message.SerializeToString())


def watched_events(message: bytes) -> tuple[FeedbackEvent, ...]:
    """The events of one WatchFeedbackEvents message, oldest first."""
    return tuple(_event(e) for e in feedback_pb2.WatchFeedbackEventsResponse.FromString(message).events)


def health_request(service: str, timeout: float | None) -> Request:
    message = health_pb2.HealthCheckRequest(service=service).SerializeToString()
    return Request(HEALTH_CHECK, [], message, timeout_ms(timeout))


def list_services_request(timeout: float | None, request_id: str | None) -> Request:
    metadata: list[tuple[str, MetadataValue]] = [] if request_id is None else [("x-request-id", request_id)]
    message = reflection_pb2.ListServicesRequest().SerializeToString()
    return Request(LIST_SERVICES, metadata, message, timeout_ms(timeout))


def check(response: Response) -> Response:
    """Returns an OK response; raises the matching RpcError otherwise."""
    if response.code == 0:
        return response
    details: list[Any] = []
    raw = response.first("status-details-bin")
    if isinstance(raw, bytes):
        try:
            details = list(status_pb2.Status.FromString(raw).details)
        except Exception:  # malformed details do not hide the status itself
            details = []
    request_id = response.first("x-request-id")
    raise RpcError(StatusCode.from_wire(response.code), response.message, details,
                   request_id if isinstance(request_id, str) else None)


def health_status(response: Response) -> HealthStatus:
    status = health_pb2.HealthCheckResponse.FromString(response.body).status
    try:
        return HealthStatus(status)
    except ValueError:
        return HealthStatus.UNKNOWN


def services(response: Response) -> tuple[ServiceDescription, ...]:
    answer = reflection_pb2.ListServicesResponse.FromString(response.body)
    return tuple(
        ServiceDescription(
            service.name,
            tuple(
                MethodDescription(m.name, m.path, m.request_type, m.response_type, m.requires_token, m.server_streaming)
                for m in service.methods
            ),
        )
        for service in answer.services
    )


def events_page(response: Response) -> FeedbackEventsPage:
    page = feedback_pb2.ListFeedbackEventsResponse.FromString(response.body)
    return FeedbackEventsPage(tuple(_event(e) for e in page.events), page.next_after_event_id)


def _event(e: feedback_pb2.FeedbackEvent) -> FeedbackEvent:
    return FeedbackEvent(e.event_id, e.interaction_id, e.rating, e.subject, e.created_at,
                         e.subject_bytes or e.subject.encode())


def next_cursor(page: FeedbackEventsPage, cursor: int) -> int:
    """Where the page after ``page`` (asked for after ``cursor``) starts; refuses a cursor that does not move on,
    which would page forever."""
    if page.next_after_event_id <= cursor:
        raise RpcError(StatusCode.INTERNAL, f"Malformed response: next_after_event_id {page.next_after_event_id} "
                                            f"does not move past {cursor}")
    return page.next_after_event_id
