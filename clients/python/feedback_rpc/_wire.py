"""The wire format of protocol/SPEC.md: frames, HELLO, metadata, REQUEST and RESPONSE payloads.

Pure functions and an incremental decoder; no sockets. Every length is checked against its limit before
anything is buffered, and every violation raises ``WireError`` with the SPEC.md name of the error.
"""
from __future__ import annotations

import struct
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


# ----------------------------------------------------------------------------------------- encoding

def encode_frame(frame_type: int, call_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IIBB", len(payload), call_id, frame_type, 0) + payload


def encode_hello(hello: Hello) -> bytes:
    payload = MAGIC + struct.pack(">H", hello.version) + b"".join(struct.pack(">HI", k, v) for k, v in hello.settings)
    return encode_frame(HELLO, 0, payload)


def _check_key(key: str, *, allow_pseudo: bool) -> bytes:
    raw = key.encode("ascii", "strict") if key.isascii() else None
    if raw is None or not raw or len(raw) > 255:
        raise WireError("INVALID_METADATA_KEY", f"metadata key {key!r} is not 1-255 ASCII characters")
    name = raw[1:] if raw[:1] == b":" else raw
    if (raw[:1] == b":" and not allow_pseudo) or not name or any(b not in _KEY_BYTES for b in name):
        raise WireError("INVALID_METADATA_KEY", f"metadata key {key!r} has a character outside 0-9 a-z _ . -")
    return raw


def encode_metadata(entries: list[tuple[str, MetadataValue]], *, allow_pseudo: bool = False) -> bytes:
    out = bytearray()
    seen: set[str] = set()
    for key, value in entries:
        raw_key = _check_key(key, allow_pseudo=allow_pseudo)
        if key.endswith("-bin"):
            raw_value = value if isinstance(value, (bytes, bytearray)) else str(value).encode("utf-8")
        else:
            if isinstance(value, (bytes, bytearray)):
                raise WireError("INVALID_METADATA_VALUE", f"{key!r} takes text; binary values need a -bin key")
            raw_value = value.encode("ascii", "replace")
            if any(b < 0x20 or b > 0x7E for b in raw_value) or not value.isascii():
                raise WireError("INVALID_METADATA_VALUE", f"value of {key!r} is not printable ASCII")
        if key in RESERVED_KEYS:
            if key in seen:
                raise WireError("DUPLICATE_METADATA_KEY", f"reserved key {key!r} appears twice")
            seen.add(key)
        if key == "x-request-id" and not 1 <= len(raw_value) <= 128:
            raise WireError("INVALID_METADATA_VALUE", "x-request-id must be 1 to 128 bytes")
        if len(raw_value) > 0xFFFF:
            raise WireError("INVALID_METADATA_VALUE", f"value of {key!r} is over 65535 bytes")
        out += struct.pack(">B", len(raw_key)) + raw_key + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def encode_request(call_id: int, request: Request) -> bytes:
    if not 1 <= call_id <= MAX_CALL_ID:
        raise WireError("INVALID_CALL_ID", f"call id {call_id} is outside 1..{MAX_CALL_ID}")
    if not valid_method(request.method):
        raise WireError("INVALID_METHOD", f":method {request.method!r} is not /SERVICE/METHOD")
    pseudo: list[tuple[str, MetadataValue]] = [(":method", request.method)]
    if request.timeout_ms is not None:
        pseudo.append((":timeout", str(max(0, min(int(request.timeout_ms), MAX_TIMEOUT_MS)))))
    for key, _ in request.metadata:
        if key.startswith(":"):
            raise WireError("INVALID_METADATA_KEY", f"pseudo-key {key!r} is set through the request")
    block = encode_metadata(pseudo + list(request.metadata), allow_pseudo=True)
    return encode_frame(REQUEST, call_id, struct.pack(">I", len(block)) + block + request.message)


def encode_response(call_id: int, response: Response) -> bytes:
    text = response.message.encode("utf-8")
    block = encode_metadata(list(response.metadata))
    payload = struct.pack(">II", response.code, len(text)) + text + struct.pack(">I", len(block)) + block + response.body
    return encode_frame(RESPONSE, call_id, payload)


def valid_method(method: str) -> bool:
    if not method.startswith("/") or not method.isascii() or len(method) > 0xFFFF:
        return False
    if any(not 0x21 <= ord(c) <= 0x7E for c in method):
        return False
    parts = method[1:].split("/")
    return len(parts) == 2 and all(parts)


# ----------------------------------------------------------------------------------------- decoding

class FrameDecoder:
    """Incremental frame decoder for one side of a connection (SPEC.md section 2.2).

    ``feed(data)`` buffers bytes; ``next()`` returns the next frame or None when more bytes are needed.
    ``role`` is the side this decoder works for: ``"client"`` decodes what servers send.
    """

    def __init__(self, role: str, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE, hello_received: bool = False):
        if role not in ("client", "server"):
            raise ValueError("role must be 'client' or 'server'")
        self.role = role
        self.max_frame_size = max_frame_size
        self.hello_received = hello_received
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next(self) -> Optional[Frame]:
        buffer = self._buffer
        if len(buffer) < 4:
            return None
        (length,) = struct.unpack_from(">I", buffer, 0)
        limit = self.max_frame_size if self.hello_received else HANDSHAKE_MAX_FRAME_SIZE
        if length > limit:
            raise WireError("FRAME_TOO_LARGE", f"frame of {length} bytes is over the limit of {limit} bytes")
        if len(buffer) < HEADER_SIZE:
            return None
        _, call_id, frame_type, flags = struct.unpack_from(">IIBB", buffer, 0)
        self._check_header(frame_type, call_id, flags, length)
        if len(buffer) < HEADER_SIZE + length:
            return None
        payload = bytes(buffer[HEADER_SIZE:HEADER_SIZE + length])
        del buffer[:HEADER_SIZE + length]
        if frame_type == HELLO:
            decode_hello(payload)
            self.hello_received = True
        return Frame(frame_type, call_id, payload)

    def finish(self) -> None:
        """Call at end of stream: raises TRUNCATED when a partial frame is left."""
        if self._buffer:
            raise WireError("TRUNCATED", f"stream ended inside a frame, {len(self._buffer)} bytes unread")

    def _check_header(self, frame_type: int, call_id: int, flags: int, length: int) -> None:
        if not 1 <= frame_type <= 7:
            raise WireError("UNKNOWN_FRAME_TYPE", f"frame type {frame_type} is not defined")
        if flags != 0 or call_id > MAX_CALL_ID:
            raise WireError("RESERVED_BITS_SET", f"flags {flags:#x}, call id {call_id:#x}")
        if not self.hello_received and frame_type not in (HELLO, GOAWAY):
            raise WireError("EXPECTED_HELLO", f"first frame is {TYPE_NAMES[frame_type]}, expected HELLO")
        unexpected = (self.role == "server" and frame_type == RESPONSE) or (self.role == "client" and frame_type in (REQUEST, CANCEL))
        if (self.hello_received and frame_type == HELLO) or unexpected:
            raise WireError("UNEXPECTED_FRAME", f"a {self.role} does not receive {TYPE_NAMES[frame_type]}")
        is_call_frame = frame_type in (REQUEST, RESPONSE, CANCEL)
        if is_call_frame != (call_id != 0):
            raise WireError("INVALID_CALL_ID", f"{TYPE_NAMES[frame_type]} on call id {call_id}")
        ok = {
            CANCEL: length == 0,
            PING: length == 8,
            PONG: length == 8,
            GOAWAY: length >= 8,
            HELLO: length >= 6 and (length - 6) % 6 == 0,
        }.get(frame_type, True)
        if not ok:
            raise WireError("INVALID_PAYLOAD_LENGTH", f"{TYPE_NAMES[frame_type]} with a payload of {length} bytes")


def decode_hello(payload: bytes) -> Hello:
    if payload[:4] != MAGIC:
        raise WireError("BAD_MAGIC", "HELLO magic is not 'FBRP'")
    (version,) = struct.unpack_from(">H", payload, 4)
    if version == 0:
        raise WireError("UNSUPPORTED_VERSION", "HELLO version 0 does not exist")
    settings: list[tuple[int, int]] = []
    for offset in range(6, len(payload), 6):
        key, value = struct.unpack_from(">HI", payload, offset)
        if key == 0 or any(k == key for k, _ in settings):
            raise WireError("INVALID_SETTING", f"setting {key:#x} is reserved or repeated")
        if key == SETTING_MAX_FRAME_SIZE and not 16_384 <= value <= 16_777_215:
            raise WireError("INVALID_SETTING", f"MAX_FRAME_SIZE {value} is out of range")
        if key == SETTING_MAX_METADATA_SIZE and not 1024 <= value <= 16_777_215:
            raise WireError("INVALID_SETTING", f"MAX_METADATA_SIZE {value} is out of range")
        settings.append((key, value))
    return Hello(version, settings)


def decode_goaway(payload: bytes) -> GoAway:
    last, code = struct.unpack_from(">II", payload, 0)
    return GoAway(last, code, payload[8:].decode("utf-8", "replace"))


def decode_metadata(block: bytes, *, request: bool) -> tuple[list[tuple[str, MetadataValue]], dict[str, str]]:
    """The entries of a block (pseudo-keys apart) in SPEC.md section 7.3's order of checks."""
    entries: list[tuple[str, MetadataValue]] = []
    pseudo: dict[str, str] = {}
    seen: set[str] = set()
    offset = 0
    while offset < len(block):
        key_length = block[offset]
        if offset + 1 + key_length + 2 > len(block):
            raise WireError("METADATA_OVERRUN", f"metadata entry at offset {offset} runs past the block")
        raw_key = block[offset + 1:offset + 1 + key_length]
        (value_length,) = struct.unpack_from(">H", block, offset + 1 + key_length)
        start = offset + 3 + key_length
        if start + value_length > len(block):
            raise WireError("METADATA_OVERRUN", f"metadata value at offset {start} runs past the block")
        raw_value = block[start:start + value_length]
        offset = start + value_length
        name = raw_key[1:] if raw_key[:1] == b":" else raw_key
        if not raw_key or not name or any(b not in _KEY_BYTES for b in name):
            raise WireError("INVALID_METADATA_KEY", f"metadata key {raw_key!r} is invalid")
        key = raw_key.decode("ascii")
        if key.startswith(":") and (not request or key not in (":method", ":timeout")):
            raise WireError("INVALID_METADATA_KEY", f"unknown pseudo-key {key!r}")
        binary = key.endswith("-bin")
        if not binary and any(b < 0x20 or b > 0x7E for b in raw_value):
            raise WireError("INVALID_METADATA_VALUE", f"value of {key!r} is not printable ASCII")
        if key == "x-request-id" and not 1 <= len(raw_value) <= 128:
            raise WireError("INVALID_METADATA_VALUE", "x-request-id must be 1 to 128 bytes")
        if key in RESERVED_KEYS:
            if key in seen:
                raise WireError("DUPLICATE_METADATA_KEY", f"reserved key {key!r} appears twice")
            seen.add(key)
        if key.startswith(":"):
            pseudo[key] = raw_value.decode("ascii")
        else:
            entries.append((key, bytes(raw_value) if binary else raw_value.decode("ascii")))
    return entries, pseudo


def decode_request(payload: bytes, *, max_metadata_size: int = DEFAULT_MAX_METADATA_SIZE) -> Request:
    if len(payload) < 4:
        raise WireError("TRUNCATED_PAYLOAD", "REQUEST payload has no metadata length")
    (length,) = struct.unpack_from(">I", payload, 0)
    if length > max_metadata_size:
        raise WireError("METADATA_TOO_LARGE", f"metadata of {length} bytes is over the limit of {max_metadata_size}")
    if 4 + length > len(payload):
        raise WireError("METADATA_OVERRUN", "metadata length runs past the payload")
    entries, pseudo = decode_metadata(payload[4:4 + length], request=True)
    method = pseudo.get(":method")
    if method is None:
        raise WireError("MISSING_METHOD", "REQUEST has no :method")
    if not valid_method(method):
        raise WireError("INVALID_METHOD", f":method {method!r} is not /SERVICE/METHOD")
    timeout = pseudo.get(":timeout")
    if timeout is not None and not (1 <= len(timeout) <= 8 and timeout.isdigit() and timeout.isascii()):
        raise WireError("INVALID_TIMEOUT", ":timeout must be 1 to 8 ASCII digits")
    return Request(method, entries, payload[4 + length:], int(timeout) if timeout is not None else None)


def decode_response(payload: bytes, *, max_metadata_size: int = DEFAULT_MAX_METADATA_SIZE) -> Response:
    if len(payload) < 12:
        raise WireError("TRUNCATED_PAYLOAD", "RESPONSE payload is under 12 bytes")
    code, text_length = struct.unpack_from(">II", payload, 0)
    if 8 + text_length > len(payload):
        raise WireError("MESSAGE_OVERRUN", "message length runs past the payload")
    try:
        message = payload[8:8 + text_length].decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("INVALID_MESSAGE", "status message is not UTF-8") from None
    offset = 8 + text_length
    if offset + 4 > len(payload):
        raise WireError("TRUNCATED_PAYLOAD", "RESPONSE payload has no metadata length")
    (length,) = struct.unpack_from(">I", payload, offset)
    if length > max_metadata_size:
        raise WireError("METADATA_TOO_LARGE", "metadata is over the limit")
    if offset + 4 + length > len(payload):
        raise WireError("METADATA_OVERRUN", "metadata length runs past the payload")
    entries, _ = decode_metadata(payload[offset + 4:offset + 4 + length], request=False)
    body = payload[offset + 4 + length:]
    if code != 0 and body:
        raise WireError("UNEXPECTED_BODY", f"status {code} with message bytes")
    return Response(code, message, entries, body)
