"""The wire format of protocol/SPEC.md: frames, HELLO, metadata, REQUEST and RESPONSE payloads.

Pure functions and an incremental decoder; no sockets. Every length is checked against its limit before
anything is buffered, and every violation raises ``WireError`` with the SPEC.md name of the error.
This module gathers the names of ``_protocol``, ``_frames`` and ``_payloads``.
"""
from ._frames import FrameDecoder, decode_goaway, decode_hello, encode_frame, encode_hello  # noqa: F401
from ._payloads import (  # noqa: F401
    decode_metadata,
    decode_request,
    decode_response,
    encode_metadata,
    encode_request,
    encode_response,
    valid_method,
)
from ._protocol import *  # noqa: F401,F403
