"""The wire format of protocol/SPEC.md: frames, HELLO, GOAWAY, metadata, REQUEST and RESPONSE payloads.

Pure functions and an incremental decoder; no sockets. Every length is checked against its limit before
anything is buffered, and every violation raises ``WireError`` with the SPEC.md name of the error.
This module gathers the names of ``_protocol``, ``_frames`` and ``_payloads``.
"""

from ._frames import FrameDecoder, decode_goaway, decode_hello, encode_frame, encode_goaway, encode_hello
from ._payloads import (
    decode_metadata,
    decode_request,
    decode_response,
    encode_metadata,
    encode_request,
    encode_request_frame,
    encode_request_payload,
    encode_response,
    valid_method,
)
from ._protocol import (
    DEFAULT_MAX_CONCURRENT_CALLS,
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_METADATA_SIZE,
    HANDSHAKE_MAX_FRAME_SIZE,
    HEADER_SIZE,
    MAGIC,
    MAX_CALL_ID,
    MAX_FRAME_SIZE_BEFORE_PEER_HELLO,
    MAX_TIMEOUT_MS,
    VERSION,
    Frame,
    FrameType,
    GoAway,
    GoAwayCode,
    Hello,
    MetadataValue,
    Request,
    Response,
    Setting,
    WireError,
)

__all__ = [
    "DEFAULT_MAX_CONCURRENT_CALLS",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_METADATA_SIZE",
    "HANDSHAKE_MAX_FRAME_SIZE",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_CALL_ID",
    "MAX_FRAME_SIZE_BEFORE_PEER_HELLO",
    "MAX_TIMEOUT_MS",
    "VERSION",
    "Frame",
    "FrameDecoder",
    "FrameType",
    "GoAway",
    "GoAwayCode",
    "Hello",
    "MetadataValue",
    "Request",
    "Response",
    "Setting",
    "WireError",
    "decode_goaway",
    "decode_hello",
    "decode_metadata",
    "decode_request",
    "decode_response",
    "encode_frame",
    "encode_goaway",
    "encode_hello",
    "encode_metadata",
    "encode_request",
    "encode_request_frame",
    "encode_request_payload",
    "encode_response",
    "valid_method",
]
