"""Frames (SPEC.md sections 2-4 and 8): the header, HELLO, GOAWAY, and the incremental decoder.

Every length is checked against its limit before anything is buffered.
"""
from __future__ import annotations

import struct
from typing import Optional

from ._protocol import DEFAULT_MAX_FRAME_SIZE, HANDSHAKE_MAX_FRAME_SIZE, HEADER_SIZE, MAGIC, MAX_CALL_ID, TYPE_NAMES, Frame, GoAway, Hello, WireError
from ._protocol import CANCEL, GOAWAY, HELLO, PING, PONG, REQUEST, RESPONSE, SETTING_MAX_FRAME_SIZE, SETTING_MAX_METADATA_SIZE


def encode_frame(frame_type: int, call_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IIBB", len(payload), call_id, frame_type, 0) + payload


def encode_hello(hello: Hello) -> bytes:
    payload = MAGIC + struct.pack(">H", hello.version) + b"".join(struct.pack(">HI", k, v) for k, v in hello.settings)
    return encode_frame(HELLO, 0, payload)


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
