from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListServicesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ["services"]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceDescription]
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceDescription, _Mapping]]] = ...) -> None: ...

class MethodDescription(_message.Message):
    __slots__ = ["name", "path", "request_type", "requires_token", "response_type", "server_streaming"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SERVER_STREAMING_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    request_type: str
    requires_token: bool
    response_type: str
    server_streaming: bool
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., request_type: _Optional[str] = ..., response_type: _Optional[str] = ..., requires_token: bool = ..., server_streaming: bool = ...) -> None: ...

class ServiceDescription(_message.Message):
    __slots__ = ["methods", "name"]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    methods: _containers.RepeatedCompositeFieldContainer[MethodDescription]
    name: str
    def __init__(self, name: _Optional[str] = ..., methods: _Optional[_Iterable[_Union[MethodDescription, _Mapping]]] = ...) -> None: ...
