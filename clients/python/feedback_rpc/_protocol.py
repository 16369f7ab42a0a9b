"""Constants, error type and message types of protocol/SPEC.md, shared by the frame and payload codecs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

HEADER_SIZE = 10
MAGIC = b"FBRP"
VERSION = 1
HANDSHAKE_MAX_FRAME_SIZE = 1024
DEFAULT_MAX_FRAME_SIZE = 1_048_576
DEFAULT_MAX_METADATA_SIZE = 8192
DEFAULT_MAX_CONCURRENT_CALLS = 100
MAX_CALL_ID = 0x7FFF_FFFF
MAX_TIMEOUT_MS = 99_999_999

HELLO, REQUEST, RESPONSE, CANCEL, PING, PONG, GOAWAY = 1, 2, 3, 4, 5, 6, 7
TYPE_NAMES = {HELLO: "HELLO", REQUEST: "REQUEST", RESPONSE: "RESPONSE", CANCEL: "CANCEL", PING: "PING", PONG: "PONG", GOAWAY: "GOAWAY"}
SETTING_MAX_FRAME_SIZE, SETTING_MAX_CONCURRENT_CALLS, SETTING_MAX_METADATA_SIZE = 1, 2, 3

# GOAWAY error codes (SPEC.md section 8).
NO_ERROR, PROTOCOL_ERROR, FRAME_TOO_LARGE_CODE, HANDSHAKE_FAILED, INTERNAL_ERROR, REFUSED = 0, 1, 2, 3, 4, 5

CONNECTION_ERRORS = {
    "TRUNCATED", "FRAME_TOO_LARGE", "UNKNOWN_FRAME_TYPE", "RESERVED_BITS_SET", "EXPECTED_HELLO", "UNEXPECTED_FRAME",
    "INVALID_CALL_ID", "INVALID_PAYLOAD_LENGTH", "BAD_MAGIC", "UNSUPPORTED_VERSION", "INVALID_SETTING",
}
RESERVED_KEYS = (":method", ":timeout", "authorization", "x-request-id", "traceparent", "status-details-bin")
_KEY_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")


class WireError(Exception):
    """A protocol violation, named as in SPEC.md (``code``), with its scope: ``connection`` or ``call``."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def scope(self) -> str:
        return "connection" if self.code in CONNECTION_ERRORS else "call"

    @property
    def goaway_code(self) -> int:
        if self.code == "FRAME_TOO_LARGE":
            return FRAME_TOO_LARGE_CODE
        if self.code in ("BAD_MAGIC", "UNSUPPORTED_VERSION", "EXPECTED_HELLO"):
            return HANDSHAKE_FAILED
        return PROTOCOL_ERROR

    @property
    def status(self) -> int:
        """The status a server answers a call error with."""
        return 8 if self.code == "METADATA_TOO_LARGE" else 3


@dataclass(frozen=True)
class Frame:
    type: int
    call_id: int
    payload: bytes = b""

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, str(self.type))


@dataclass
class Hello:
    version: int = VERSION
    settings: list[tuple[int, int]] = field(default_factory=list)

    def setting(self, setting_id: int, default: int) -> int:
        for key, value in self.settings:
            if key == setting_id:
                return value
        return default

    @property
    def max_frame_size(self) -> int:
        return self.setting(SETTING_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE)

    @property
    def max_concurrent_calls(self) -> int:
        return self.setting(SETTING_MAX_CONCURRENT_CALLS, DEFAULT_MAX_CONCURRENT_CALLS)

    @property
    def max_metadata_size(self) -> int:
        return self.setting(SETTING_MAX_METADATA_SIZE, DEFAULT_MAX_METADATA_SIZE)


MetadataValue = Union[str, bytes]


@dataclass
class Request:
    method: str
    metadata: list[tuple[str, MetadataValue]] = field(default_factory=list)
    message: bytes = b""
    timeout_ms: Optional[int] = None


@dataclass
class Response:
    code: int
    message: str = ""
    metadata: list[tuple[str, MetadataValue]] = field(default_factory=list)
    body: bytes = b""

    def first(self, key: str) -> Optional[MetadataValue]:
        for k, v in self.metadata:
            if k == key:
                return v
        return None


@dataclass
class GoAway:
    last_call_id: int
    error_code: int
    debug: str = ""
