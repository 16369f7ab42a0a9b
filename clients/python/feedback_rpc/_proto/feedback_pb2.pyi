from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeedbackEvent(_message.Message):
    __slots__ = ["created_at", "event_id", "interaction_id", "rating", "subject", "subject_bytes"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_BYTES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    created_at: str
    event_id: int
    interaction_id: int
    rating: int
    subject: str
    subject_bytes: bytes
    def __init__(self, event_id: _Optional[int] = ..., interaction_id: _Optional[int] = ..., rating: _Optional[int] = ..., subject: _Optional[str] = ..., created_at: _Optional[str] = ..., subject_bytes: _Optional[bytes] = ...) -> None: ...

class ListFeedbackEventsRequest(_message.Message):
    __slots__ = ["after_event_id", "page_size"]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    after_event_id: int
    page_size: int
    def __init__(self, after_event_id: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListFeedbackEventsResponse(_message.Message):
    __slots__ = ["events", "next_after_event_id"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[FeedbackEvent]
    next_after_event_id: int
    def __init__(self, events: _Optional[_Iterable[_Union[FeedbackEvent, _Mapping]]] = ..., next_after_event_id: _Optional[int] = ...) -> None: ...

class SubmitFeedbackRequest(_message.Message):
    __slots__ = ["interaction_id", "rating"]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    interaction_id: int
    rating: int
    def __init__(self, interaction_id: _Optional[int] = ..., rating: _Optional[int] = ...) -> None: ...

class SubmitFeedbackResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class VerifyTokenRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class VerifyTokenResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class WatchFeedbackEventsRequest(_message.Message):
    __slots__ = ["after_event_id"]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    after_event_id: int
    def __init__(self, after_event_id: _Optional[int] = ...) -> None: ...

class WatchFeedbackEventsResponse(_message.Message):
    __slots__ = ["events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[FeedbackEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[FeedbackEvent, _Mapping]]] = ...) -> None: ...
