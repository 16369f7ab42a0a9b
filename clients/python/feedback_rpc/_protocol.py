"""Constants, enums, error type and message types of protocol/SPEC.md, shared by the frame and payload codecs."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._status import NamedIntEnum, StatusCode

HEADER_SIZE = 10
MAGIC = b"FBRP"
VERSION = 2
"""The highest version this package implements, offered in its HELLO: version 1 and server-streaming calls."""
DEFAULT_MAX_STREAM_CREDIT = 256
STREAM_FLAG = 0x01
"""The REQUEST flag of a server-streaming call (version 2)."""
MAX_CREDIT = 0x7FFF_FFFF
HANDSHAKE_MAX_FRAME_SIZE = 1024
MAX_FRAME_SIZE_BEFORE_PEER_HELLO = 16_384
"""The largest frame payload sent before the peer's HELLO has arrived: the smallest MAX_FRAME_SIZE a peer may
announce (SPEC.md section 2.1)."""
DEFAULT_MAX_FRAME_SIZE = 1_048_576
DEFAULT_MAX_METADATA_SIZE = 8192
DEFAULT_MAX_CONCURRENT_CALLS = 100
MAX_CALL_ID = 0x7FFF_FFFF
MAX_TIMEOUT_MS = 99_999_999


class FrameType(NamedIntEnum):
    """The frame types (SPEC.md section 2): 0x01-0x07 in version 1, STREAM_MESSAGE and CREDIT from version 2."""

    HELLO = 0x01
    REQUEST = 0x02
    RESPONSE = 0x03
    CANCEL = 0x04
    PING = 0x05
    PONG = 0x06
    GOAWAY = 0x07
    STREAM_MESSAGE = 0x08
    CREDIT = 0x09


class GoAwayCode(NamedIntEnum):
    """GOAWAY error codes (SPEC.md section 8)."""

    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    FRAME_TOO_LARGE = 2
    HANDSHAKE_FAILED = 3
    INTERNAL_ERROR = 4
    REFUSED = 5

    @classmethod
    def from_wire(cls, value: int) -> GoAwayCode:
        """A received code; a receiver treats one it does not know as PROTOCOL_ERROR (SPEC.md section 8)."""
        try:
            return cls(value)
        except ValueError:
            return cls.PROTOCOL_ERROR


class Setting(NamedIntEnum):
    """HELLO setting ids (SPEC.md section 4.1); a receiver ignores ids it does not know."""

    MAX_FRAME_SIZE = 0x0001
    MAX_CONCURRENT_CALLS = 0x0002
    MAX_METADATA_SIZE = 0x0003
    MAX_STREAM_CREDIT = 0x0004


CONNECTION_ERRORS = {
    "TRUNCATED",
    "FRAME_TOO_LARGE",
    "UNKNOWN_FRAME_TYPE",
    "RESERVED_BITS_SET",
    "EXPECTED_HELLO",
    "UNEXPECTED_FRAME",
    "INVALID_CALL_ID",
    "INVALID_PAYLOAD_LENGTH",
    "BAD_MAGIC",
    "UNSUPPORTED_VERSION",
    "INVALID_SETTING",
    "INVALID_CREDIT",
}
RESERVED_KEYS = (":method", ":timeout", "authorization", "x-request-id", "traceparent", "status-details-bin")
_KEY_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")


class WireError(Exception):
    """A protocol violation, named as in SPEC.md (``code``), with its scope: ``connection`` or ``call``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def scope(self) -> str:
        return "connection" if self.code in CONNECTION_ERRORS else "call"

    @property
    def goaway_code(self) -> GoAwayCode:
        """The GOAWAY error code the receiver of a connection error sends."""
        if self.code == "FRAME_TOO_LARGE":
            return GoAwayCode.FRAME_TOO_LARGE
        if self.code in ("BAD_MAGIC", "UNSUPPORTED_VERSION", "EXPECTED_HELLO"):
            return GoAwayCode.HANDSHAKE_FAILED
        return GoAwayCode.PROTOCOL_ERROR

    @property
    def status(self) -> StatusCode:
        """The status a server answers a call error with."""
        return StatusCode.RESOURCE_EXHAUSTED if self.code == "METADATA_TOO_LARGE" else StatusCode.INVALID_ARGUMENT


@dataclass(frozen=True)
class Frame:
    type: FrameType
    call_id: int
    payload: bytes = b""
    flags: int = 0


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
        return self.setting(Setting.MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE)

    @property
    def max_concurrent_calls(self) -> int:
        return self.setting(Setting.MAX_CONCURRENT_CALLS, DEFAULT_MAX_CONCURRENT_CALLS)

    @property
    def max_metadata_size(self) -> int:
        return self.setting(Setting.MAX_METADATA_SIZE, DEFAULT_MAX_METADATA_SIZE)

    @property
    def max_stream_credit(self) -> int:
        return self.setting(Setting.MAX_STREAM_CREDIT, DEFAULT_MAX_STREAM_CREDIT)


MetadataValue = str | bytes


@dataclass
class Request:
    method: str
    metadata: list[tuple[str, MetadataValue]] = field(default_factory=list)
    message: bytes = b""
    timeout_ms: int | None = None


@dataclass
class Response:
    code: int
    message: str = ""
    metadata: list[tuple[str, MetadataValue]] = field(default_factory=list)
    body: bytes = b""

    def first(self, key: str) -> MetadataValue | None:
        for k, v in self.metadata:
            if k == key:
                return v
        return None


@dataclass(frozen=True)
class GoAway:
    """A GOAWAY payload: the sender processes no call above ``last_call_id``."""

    last_call_id: int = 0
    error_code: GoAwayCode = GoAwayCode.NO_ERROR
    debug: str = ""
