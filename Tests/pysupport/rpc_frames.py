"""Frames read from a raw feedbackd connection, for tests that speak the wire protocol by hand."""
import struct

HEADER = struct.Struct(">IIBB")  # payload length, call id, type, flags (SPEC.md section 2)


def split(buffer: bytes):
    """The complete frames at the start of `buffer` as (type, call id, payload), and the bytes left."""
    frames = []
    while len(buffer) >= HEADER.size:
        length, call_id, ftype, _ = HEADER.unpack_from(buffer)
        if len(buffer) < HEADER.size + length:
            break
        frames.append((ftype, call_id, buffer[HEADER.size:HEADER.size + length]))
        buffer = buffer[HEADER.size + length:]
    return frames, buffer
