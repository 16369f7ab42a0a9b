"""Frames (SPEC.md sections 2-4 and 8): the header, HELLO, GOAWAY, and the incremental decoder.

Every length is checked against its limit before anything is buffered.
"""

from __future__ import annotations

import struct

from ._protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    HANDSHAKE_MAX_FRAME_SIZE,
    HEADER_SIZE,
    MAGIC,
    MAX_CALL_ID,
    MAX_CREDIT,
    STREAM_FLAG,
    VERSION,
    Frame,
    FrameType,
    GoAway,
    GoAwayCode,
    Hello,
    Setting,
    WireError,
)

_HEADER = struct.Struct(">IIBB")


def encode_frame(frame_type: FrameType, call_id: int, payload: bytes = b"", flags: int = 0) -> bytes:
    return _HEADER.pack(len(payload), call_id, frame_type, flags) + payload


def encode_hello(hello: Hello) -> bytes:
    settings = b"".join(struct.pack(">HI", k, v) for k, v in hello.settings)
    return encode_frame(FrameType.HELLO, 0, MAGIC + struct.pack(">H", hello.version) + settings)


def encode_goaway(goaway: GoAway) -> bytes:
    """The one GOAWAY encoding: ``last_call_id``, ``error_code``, then the debug text in UTF-8."""
    payload = struct.pack(">II", goaway.last_call_id, goaway.error_code) + goaway.debug.encode("utf-8")
    return encode_frame(FrameType.GOAWAY, 0, payload)


def decode_goaway(payload: bytes) -> GoAway:
    last, code = struct.unpack_from(">II", payload, 0)
    return GoAway(last, GoAwayCode.from_wire(code), payload[8:].decode("utf-8", "replace"))


class FrameDecoder:
    """Incremental frame decoder for one side of a connection (SPEC.md section 2.2).

    ``feed(data)`` buffers bytes; ``next()`` returns the next frame or None when more bytes are needed.
    ``role`` is the side this decoder works for: ``"client"`` decodes what servers send. ``version`` is the
    highest version this side implements; once the peer's HELLO is decoded it becomes the connection's (the
    lower of the two), which decides the frame types and flags that exist. With ``hello_received`` the
    decoder starts as if the HELLO had been read, ``version`` being the connection's.
    """

    def __init__(
        self,
        role: str,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        hello_received: bool = False,
        version: int = VERSION,
    ):
        if role not in ("client", "server"):
            raise ValueError("role must be 'client' or 'server'")
        self.role = role
        self.max_frame_size = max_frame_size
        self.hello_received = hello_received
        self.own_version = version
        self.version = version
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next(self) -> Frame | None:
        buffer = self._buffer
        if len(buffer) < 4:
            return None
        (length,) = struct.unpack_from(">I", buffer, 0)
        limit = self.max_frame_size if self.hello_received else HANDSHAKE_MAX_FRAME_SIZE
        if length > limit:
            raise WireError("FRAME_TOO_LARGE", f"frame of {length} bytes is over the limit of {limit} bytes")
        if len(buffer) < HEADER_SIZE:
            return None
        _, call_id, type_byte, flags = _HEADER.unpack_from(buffer, 0)
        frame_type = self._check_header(type_byte, call_id, flags, length)
        if len(buffer) < HEADER_SIZE + length:
            return None
        payload = bytes(buffer[HEADER_SIZE : HEADER_SIZE + length])
        del buffer[: HEADER_SIZE + length]
        if frame_type == FrameType.HELLO:
            hello = decode_hello(payload)
            self.hello_received = True
            self.version = min(self.own_version, hello.version)
        elif frame_type == FrameType.CREDIT:
            (increment,) = struct.unpack(">I", payload)
            if not 1 <= increment <= MAX_CREDIT:
                raise WireError("INVALID_CREDIT", f"CREDIT of {increment}: an increment is 1 to {MAX_CREDIT}")
        return Frame(frame_type, call_id, payload, flags)

    def finish(self) -> None:
        """Call at end of stream: raises TRUNCATED when a partial frame is left."""
        if self._buffer:
            raise WireError("TRUNCATED", f"stream ended inside a frame, {len(self._buffer)} bytes unread")

    def _check_header(self, type_byte: int, call_id: int, flags: int, length: int) -> FrameType:
        last = FrameType.CREDIT if self.version >= 2 else FrameType.GOAWAY
        if not FrameType.HELLO <= type_byte <= last:
            raise WireError("UNKNOWN_FRAME_TYPE", f"frame type {type_byte} is not defined in version {self.version}")
        frame_type = FrameType(type_byte)
        stream_request = flags == STREAM_FLAG and frame_type == FrameType.REQUEST and self.version >= 2
        if (flags != 0 and not stream_request) or call_id > MAX_CALL_ID:
            raise WireError("RESERVED_BITS_SET", f"flags {flags:#x}, call id {call_id:#x}")
        if not self.hello_received and frame_type not in (FrameType.HELLO, FrameType.GOAWAY):
            raise WireError("EXPECTED_HELLO", f"first frame is {frame_type.name}, expected HELLO")
        unexpected = (self.role == "server" and frame_type in (FrameType.RESPONSE, FrameType.STREAM_MESSAGE)) or (
            self.role == "client" and frame_type in (FrameType.REQUEST, FrameType.CANCEL, FrameType.CREDIT)
        )
        if (self.hello_received and frame_type == FrameType.HELLO) or unexpected:
            raise WireError("UNEXPECTED_FRAME", f"a {self.role} does not receive {frame_type.name}")
        is_call_frame = frame_type not in (FrameType.HELLO, FrameType.PING, FrameType.PONG, FrameType.GOAWAY)
        if is_call_frame != (call_id != 0):
            raise WireError("INVALID_CALL_ID", f"{frame_type.name} on call id {call_id}")
        ok = {
            FrameType.CANCEL: length == 0,
            FrameType.CREDIT: length == 4,
            FrameType.PING: length == 8,
            FrameType.PONG: length == 8,
            FrameType.GOAWAY: length >= 8,
            FrameType.HELLO: length >= 6 and (length - 6) % 6 == 0,
        }.get(frame_type, True)
        if not ok:
            raise WireError("INVALID_PAYLOAD_LENGTH", f"{frame_type.name} with a payload of {length} bytes")
        return frame_type


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
        if key == Setting.MAX_FRAME_SIZE and not 16_384 <= value <= 16_777_215:
            raise WireError("INVALID_SETTING", f"MAX_FRAME_SIZE {value} is out of range")
        if key == Setting.MAX_METADATA_SIZE and not 1024 <= value <= 16_777_215:
            raise WireError("INVALID_SETTING", f"MAX_METADATA_SIZE {value} is out of range")
        if key == Setting.MAX_CONCURRENT_CALLS and value == 0:
            raise WireError("INVALID_SETTING", "MAX_CONCURRENT_CALLS 0 is out of range (1 to 2^32-1)")
        if key == Setting.MAX_STREAM_CREDIT and not 1 <= value <= MAX_CREDIT:
            raise WireError("INVALID_SETTING", f"MAX_STREAM_CREDIT {value} is out of range (1 to 2^31-1)")
        settings.append((key, value))
    return Hello(version, settings)
