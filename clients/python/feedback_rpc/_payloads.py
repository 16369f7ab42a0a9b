"""REQUEST and RESPONSE payloads and metadata blocks (SPEC.md sections 5-7)."""
from __future__ import annotations

import struct

from ._frames import encode_frame
from ._protocol import (
    _KEY_BYTES,
    DEFAULT_MAX_METADATA_SIZE,
    MAX_CALL_ID,
    MAX_TIMEOUT_MS,
    RESERVED_KEYS,
    FrameType,
    MetadataValue,
    Request,
    Response,
    WireError,
)


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
    """The REQUEST frame of ``request`` on ``call_id``."""
    return encode_request_frame(call_id, encode_request_payload(request))


def encode_request_frame(call_id: int, payload: bytes, flags: int = 0) -> bytes:
    """A REQUEST frame around a payload of ``encode_request_payload``: the payload does not depend on the call id,
    so a call can be checked and encoded before it has one. ``flags`` is ``STREAM_FLAG`` for a stream."""
    if not 1 <= call_id <= MAX_CALL_ID:
        raise WireError("INVALID_CALL_ID", f"call id {call_id} is outside 1..{MAX_CALL_ID}")
    return encode_frame(FrameType.REQUEST, call_id, payload, flags)


def encode_request_payload(request: Request) -> bytes:
    """A REQUEST payload: the metadata block (``:method``, ``:timeout``, then the request's entries) and the
    message. Raises ``WireError`` for what SPEC.md forbids (a malformed method, key or value)."""
    if not valid_method(request.method):
        raise WireError("INVALID_METHOD", f":method {request.method!r} is not /SERVICE/METHOD")
    pseudo: list[tuple[str, MetadataValue]] = [(":method", request.method)]
    if request.timeout_ms is not None:
        pseudo.append((":timeout", str(max(0, min(int(request.timeout_ms), MAX_TIMEOUT_MS)))))
    for key, _ in request.metadata:
        if key.startswith(":"):
            raise WireError("INVALID_METADATA_KEY", f"pseudo-key {key!r} is set through the request")
    block = encode_metadata(pseudo + list(request.metadata), allow_pseudo=True)
    return struct.pack(">I", len(block)) + block + request.message


def encode_response(call_id: int, response: Response) -> bytes:
    text = response.message.encode("utf-8")
    block = encode_metadata(list(response.metadata))
    payload = struct.pack(">II", response.code, len(text)) + text
    payload += struct.pack(">I", len(block)) + block + response.body
    return encode_frame(FrameType.RESPONSE, call_id, payload)


def valid_method(method: str) -> bool:
    if not method.startswith("/") or not method.isascii() or len(method) > 0xFFFF:
        return False
    if any(not 0x21 <= ord(c) <= 0x7E for c in method):
        return False
    parts = method[1:].split("/")
    return len(parts) == 2 and all(parts)


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
