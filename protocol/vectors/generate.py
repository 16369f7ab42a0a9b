#!/usr/bin/env python3
"""Writes frames.json: the golden vectors of protocol/SPEC.md.

This is an independent encoder, written from SPEC.md with the standard library only, so that the
Swift codec and every client are checked against bytes they did not produce themselves.
Run `python3 protocol/vectors/generate.py` after changing the spec, and commit frames.json;
`--check` fails when frames.json differs from what this script writes (the test command runs it).
"""
import base64
import json
import pathlib
import struct
import sys

HELLO, REQUEST, RESPONSE, CANCEL, PING, PONG, GOAWAY, STREAM_MESSAGE, CREDIT = 1, 2, 3, 4, 5, 6, 7, 8, 9
TYPE_NAMES = {1: "HELLO", 2: "REQUEST", 3: "RESPONSE", 4: "CANCEL", 5: "PING", 6: "PONG", 7: "GOAWAY", 8: "STREAM_MESSAGE",
              9: "CREDIT"}
STREAM = 0x01  # the REQUEST flag of a server-streaming call (version 2)
MAGIC = b"FBRP"
SUBMIT = "/feedback.v1.FeedbackService/SubmitFeedback"
LIST_EVENTS = "/feedback.v1.FeedbackService/ListFeedbackEvents"
WATCH_EVENTS = "/feedback.v1.FeedbackService/WatchFeedbackEvents"
HEALTH = "/feedback.health.v1.Health/Check"
LIST_SERVICES = "/feedback.reflection.v1.Reflection/ListServices"
# A realistic ~300-byte HS256 token (header.payload.signature); its content does not matter here.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTEyMzQ1Njc4OTAiLCJzY29wZSI6ImZlZWRiYWNrOndyaXRlIiwiaXNzIjoiaHR0cHM6Ly9jaGF0"
    "LmV4YW1wbGUuY29tIiwiYXVkIjoiZmVlZGJhY2stcnBjIiwiaWF0IjoxNzk2MzAwMDAwLCJleHAiOjE3OTYzMDM2MDB9."
    "k3Wq5mZxH0b9lK2cQ7rT1vNp8sYdFgJhLzXcVbNm0aE"
)


def b64url_json(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


# A token of the same shape with the read scope ListFeedbackEvents needs; its signature is made up too.
READ_JWT = ".".join([
    b64url_json({"alg": "HS256", "typ": "JWT"}),
    b64url_json({"sub": "retrain-job", "scope": "feedback:read", "iss": "https://chat.example.com", "aud": "feedback-rpc",
                 "iat": 1796300000, "exp": 1796303600}),
    "Zm9yZ2VkLXNpZ25hdHVyZS1vZi10aGUtdmVjdG9ycy0wMQ",
])


def header(length, call_id, ftype, flags=0):
    return struct.pack(">IIBB", length, call_id, ftype, flags)


def frame(call_id, ftype, payload, flags=0):
    return header(len(payload), call_id, ftype, flags) + payload


def hello_payload(version=1, settings=()):
    return MAGIC + struct.pack(">H", version) + b"".join(struct.pack(">HI", i, v) for i, v in settings)


def entry(key, value):
    key = key.encode("ascii") if isinstance(key, str) else key
    value = value.encode("ascii") if isinstance(value, str) else value
    return struct.pack(">B", len(key)) + key + struct.pack(">H", len(value)) + value


def block(entries):
    return b"".join(entry(k, v) for k, v in entries)


def request_payload(entries, message=b""):
    md = block(entries)
    return struct.pack(">I", len(md)) + md + message


def response_payload(code, message, entries=(), body=b""):
    text = message.encode("utf-8")
    md = block(entries)
    return struct.pack(">II", code, len(text)) + text + struct.pack(">I", len(md)) + md + body


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def submit_message(interaction_id, rating):
    out = b""
    if interaction_id:
        out += b"\x08" + varint(interaction_id)
    if rating:
        out += b"\x10" + varint(rating)
    return out


def pb_varint(number, value):
    """A varint protobuf field (wire type 0); proto3 leaves out a zero."""
    return bytes([number << 3]) + varint(value) if value else b""


def pb_field(number, data):
    """A length-delimited protobuf field (wire type 2): its length is a varint (one byte below 128)."""
    return bytes([number << 3 | 2]) + varint(len(data)) + data


def list_events_message(after_event_id, page_size):
    """feedback.v1.ListFeedbackEventsRequest."""
    return pb_varint(1, after_event_id) + pb_varint(2, page_size)


def feedback_event(event_id, interaction_id, rating, subject, created_at):
    """feedback.v1.FeedbackEvent; a `bytes` subject that is not valid UTF-8 goes whole in subject_bytes (field 6),
    with its lossy decoding (U+FFFD for each invalid sequence) in subject."""
    if isinstance(subject, bytes):
        text, exact = subject.decode("utf-8", errors="replace"), subject
    else:
        text, exact = subject, b""
    return (pb_varint(1, event_id) + pb_varint(2, interaction_id) + pb_varint(3, rating)
            + pb_field(4, text.encode("utf-8")) + pb_field(5, created_at.encode("ascii"))
            + (pb_field(6, exact) if exact else b""))


def list_events_response(events, next_after_event_id):
    """feedback.v1.ListFeedbackEventsResponse."""
    return b"".join(pb_field(1, feedback_event(*e)) for e in events) + pb_varint(2, next_after_event_id)


def method_description(service, name, request_type, response_type, requires_token, server_streaming=False):
    """feedback.reflection.v1.MethodDescription; proto3 leaves out false booleans."""
    return (pb_field(1, name.encode()) + pb_field(2, f"/{service}/{name}".encode()) + pb_field(3, request_type.encode())
            + pb_field(4, response_type.encode()) + pb_varint(5, int(requires_token)) + pb_varint(6, int(server_streaming)))


def list_services_response(services):
    """feedback.reflection.v1.ListServicesResponse: services [(name, [(method, request, response, token)])]."""
    return b"".join(
        pb_field(1, pb_field(1, name.encode()) + b"".join(pb_field(2, method_description(name, *m)) for m in methods))
        for name, methods in services)


def md_json(entries):
    out = []
    for k, v in entries:
        if k.endswith("-bin"):
            out.append({"key": k, "value_hex": v.hex()})
        else:
            out.append({"key": k, "value": v})
    return out


valid = []
invalid = []


def add_valid(name, role, state, data, fields, note=None, version=1, **extra):
    v = {"name": name, "role": role, "state": state, "version": version, "hex": data.hex(), "canonical": True, "frame": fields}
    if note:
        v["note"] = note
    v.update(extra)
    valid.append(v)


def add_invalid(name, role, state, data, error, scope, note, status=None, goaway=None, version=1, **extra):
    v = {"name": name, "role": role, "state": state, "version": version, "hex": data.hex(), "error": error, "scope": scope,
         "note": note}
    if status is not None:
        v["status"] = status
    if goaway is not None:
        v["goaway"] = goaway
    v.update(extra)
    invalid.append(v)


def base(ftype, call_id, payload, flags=0):
    return {"type": TYPE_NAMES[ftype], "call_id": call_id, "flags": flags, "length": len(payload)}


# ---------------------------------------------------------------- valid frames
settings = [(1, 1048576), (2, 100), (3, 8192)]
p = hello_payload(1, settings)
add_valid("hello-server-settings", "client", "handshake", frame(0, HELLO, p),
          dict(base(HELLO, 0, p), hello={"version": 1, "settings": [{"id": i, "value": v} for i, v in settings]}),
          "The HELLO a server with default settings sends.")
p = hello_payload(1)
add_valid("hello-client-minimal", "server", "handshake", frame(0, HELLO, p),
          dict(base(HELLO, 0, p), hello={"version": 1, "settings": []}),
          "A client HELLO with no settings: all defaults.")
p = hello_payload(3, [(1, 16384), (0x7F01, 12345)])
add_valid("hello-future-version-unknown-setting", "server", "handshake", frame(0, HELLO, p),
          dict(base(HELLO, 0, p), hello={"version": 3, "settings": [{"id": 1, "value": 16384}, {"id": 0x7F01, "value": 12345}]}),
          "A newer peer: version 3 is accepted (the connection uses min(3, 1) = 1) and unknown setting 0x7F01 is ignored.")

entries = [(":method", SUBMIT), (":timeout", "5000"), ("authorization", "Bearer " + JWT),
           ("x-request-id", "req-7f3a9c"), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
msg = submit_message(42, 1)
p = request_payload(entries, msg)
add_valid("request-submit-feedback", "server", "open", frame(1, REQUEST, p),
          dict(base(REQUEST, 1, p), request={"method": SUBMIT, "timeout_ms": 5000, "metadata": md_json(entries[2:]),
                                             "message_hex": msg.hex()}),
          "SubmitFeedback(interaction_id=42, rating=1) with a ~300-byte JWT, a timeout, a request id and a traceparent.")
entries = [(":method", SUBMIT), ("authorization", "Bearer " + JWT)]
msg = submit_message(9007199254740993, -1)
p = request_payload(entries, msg)
add_valid("request-negative-rating-no-timeout", "server", "open", frame(0x7FFFFFFF, REQUEST, p),
          dict(base(REQUEST, 0x7FFFFFFF, p), request={"method": SUBMIT, "timeout_ms": None, "metadata": md_json(entries[1:]),
                                                      "message_hex": msg.hex()}),
          "The largest call id; rating -1 is a 10-byte protobuf varint.")
entries = [(":method", LIST_EVENTS), (":timeout", "5000"), ("authorization", "Bearer " + READ_JWT),
           ("x-request-id", "req-feed-0001")]
msg = list_events_message(4294967295, 2)
p = request_payload(entries, msg)
add_valid("request-list-feedback-events", "server", "open", frame(2, REQUEST, p),
          dict(base(REQUEST, 2, p), request={"method": LIST_EVENTS, "timeout_ms": 5000, "metadata": md_json(entries[2:]),
                                             "message_hex": msg.hex()}),
          "ListFeedbackEvents(after_event_id=4294967295, page_size=2) with a token carrying the read scope "
          "(feedback:read), a timeout and a request id; the cursor is an int64 (here 2^32 - 1, a 5-byte varint).")
entries = [(":method", LIST_SERVICES), (":timeout", "2000"), ("x-request-id", "req-describe-01")]
p = request_payload(entries)
add_valid("request-list-services", "server", "open", frame(4, REQUEST, p),
          dict(base(REQUEST, 4, p), request={"method": LIST_SERVICES, "timeout_ms": 2000, "metadata": md_json(entries[2:]),
                                             "message_hex": ""}),
          "Reflection/ListServices: an empty ListServicesRequest, no authorization (the method needs no token), a "
          "timeout and a request id.")
entries = [(":method", HEALTH), ("trace-bin", bytes([0, 1, 0xFE, 0xFF])), ("x-tag", "a"), ("x-tag", "b"), ("x-empty", "")]
p = request_payload(entries)
add_valid("request-health-binary-and-repeated-metadata", "server", "open", frame(3, REQUEST, p),
          dict(base(REQUEST, 3, p), request={"method": HEALTH, "timeout_ms": None, "metadata": md_json(entries[1:]),
                                             "message_hex": ""}),
          "An empty message; a -bin value holding arbitrary bytes; a repeated ordinary key keeps both values in order; an empty value.")
entries = [(":timeout", "0"), (":method", HEALTH)]
p = request_payload(entries)
add_valid("request-pseudo-keys-any-order-zero-timeout", "server", "open", frame(5, REQUEST, p),
          dict(base(REQUEST, 5, p), request={"method": HEALTH, "timeout_ms": 0, "metadata": [], "message_hex": ""}),
          "Pseudo-keys may come in any order; a zero timeout is valid (the call is already past its deadline). "
          "Not canonical: an encoder writes :method first, so encoding the fields gives other (equally valid) bytes.",
          canonical=False)

entries = [(":method", SUBMIT)]
msg = submit_message(42, 1)
p = request_payload(entries, msg)
add_valid("spec-example-request", "server", "open", frame(1, REQUEST, p),
          dict(base(REQUEST, 1, p), request={"method": SUBMIT, "timeout_ms": None, "metadata": [], "message_hex": msg.hex()}),
          "The REQUEST of SPEC.md section 12.")
p = response_payload(0, "")
add_valid("spec-example-response", "client", "open", frame(1, RESPONSE, p),
          dict(base(RESPONSE, 1, p), response={"code": 0, "message": "", "metadata": [], "message_hex": ""}),
          "The RESPONSE of SPEC.md section 12.")
entries = [("x-request-id", "req-7f3a9c")]
p = response_payload(0, "", entries)
add_valid("response-ok-empty-message", "client", "open", frame(1, RESPONSE, p),
          dict(base(RESPONSE, 1, p), response={"code": 0, "message": "", "metadata": md_json(entries), "message_hex": ""}),
          "SubmitFeedback succeeded: status OK, an empty SubmitFeedbackResponse.")
p = response_payload(0, "", [], b"\x08\x01")
add_valid("response-ok-health-serving", "client", "open", frame(2, RESPONSE, p),
          dict(base(RESPONSE, 2, p), response={"code": 0, "message": "", "metadata": [], "message_hex": "0801"}),
          "Health/Check answered SERVING (status = 1).")
p = response_payload(5, "Interaction 42 not found.", entries)
add_valid("response-not-found", "client", "open", frame(1, RESPONSE, p),
          dict(base(RESPONSE, 1, p), response={"code": 5, "message": "Interaction 42 not found.", "metadata": md_json(entries),
                                               "message_hex": ""}),
          "NOT_FOUND with its message.")
entries = [("x-request-id", "req-feed-0001")]
events = [(4294967296, 42, 1, "user-1234567890", "2026-11-30T00:53:41.123Z"),
          (4294967297, 43, -1, "zo\u00eb", "2026-11-30T00:53:42.007Z")]
msg = list_events_response(events, 4294967297)
p = response_payload(0, "", entries, msg)
add_valid("response-ok-list-feedback-events", "client", "open", frame(2, RESPONSE, p),
          dict(base(RESPONSE, 2, p), response={"code": 0, "message": "", "metadata": md_json(entries), "message_hex": msg.hex()}),
          "ListFeedbackEvents answered with two events, oldest first: {event_id 4294967296, interaction_id 42, rating 1, "
          "subject \"user-1234567890\", created_at \"2026-11-30T00:53:41.123Z\"} and {event_id 4294967297, interaction_id 43, "
          "rating -1 (a 10-byte varint), subject \"zo\u00eb\" (UTF-8), created_at \"2026-11-30T00:53:42.007Z\"}; "
          "next_after_event_id 4294967297, the last event's id.")
entries = [("x-request-id", "req-feed-0002")]
events = [(7, 44, 1, "victim\u0000attacker", "2026-11-30T00:53:43.000Z"),
          (8, 45, 1, b"\xff\xfea", "2026-11-30T00:53:44.000Z")]
msg = list_events_response(events, 8)
p = response_payload(0, "", entries, msg)
add_valid("response-ok-list-feedback-events-subject-bytes", "client", "open", frame(2, RESPONSE, p),
          dict(base(RESPONSE, 2, p), response={"code": 0, "message": "", "metadata": md_json(entries), "message_hex": msg.hex()}),
          "ListFeedbackEvents answered with subjects as stored: {event_id 7, subject \"victim\\u0000attacker\" (valid UTF-8 "
          "with a NUL: subject is exact, no subject_bytes)} and {event_id 8, stored subject bytes ff fe 61, not UTF-8: "
          "subject \"\ufffd\ufffda\" (the lossy decoding), subject_bytes ff fe 61}; next_after_event_id 8.")
entries = [("x-request-id", "req-describe-01")]
services = [
    ("feedback.health.v1.Health", [
        ("Check", "feedback.health.v1.HealthCheckRequest", "feedback.health.v1.HealthCheckResponse", False)]),
    ("feedback.reflection.v1.Reflection", [
        ("ListServices", "feedback.reflection.v1.ListServicesRequest", "feedback.reflection.v1.ListServicesResponse",
         False)]),
    ("feedback.v1.FeedbackService", [
        ("ListFeedbackEvents", "feedback.v1.ListFeedbackEventsRequest", "feedback.v1.ListFeedbackEventsResponse", True),
        ("SubmitFeedback", "feedback.v1.SubmitFeedbackRequest", "feedback.v1.SubmitFeedbackResponse", True),
        ("VerifyToken", "feedback.v1.VerifyTokenRequest", "feedback.v1.VerifyTokenResponse", True),
        ("WatchFeedbackEvents", "feedback.v1.WatchFeedbackEventsRequest", "feedback.v1.WatchFeedbackEventsResponse", True,
         True)]),
]
msg = list_services_response(services)
p = response_payload(0, "", entries, msg)
add_valid("response-ok-list-services", "client", "open", frame(4, RESPONSE, p),
          dict(base(RESPONSE, 4, p), response={"code": 0, "message": "", "metadata": md_json(entries), "message_hex": msg.hex()}),
          "ListServices answered with what feedbackd serves: its three services sorted by name, each with its methods "
          "sorted by name, their paths, request and response message names, requires_token (true for the four "
          "methods of feedback.v1.FeedbackService; false, so left out, for Health/Check and ListServices) and "
          "server_streaming (true for WatchFeedbackEvents only; left out elsewhere). Services and methods over 127 "
          "bytes have two-byte length varints.")
# feedback.rpc.v1.Status{code: 3, message: "é"} serialized by hand: 08 03 12 02 c3 a9
details = bytes([0x08, 0x03, 0x12, 0x02, 0xC3, 0xA9])
entries = [("status-details-bin", details)]
p = response_payload(3, "rating must be 1 (positive) or -1 (negative) \u2014 \u00e9", entries)
add_valid("response-invalid-argument-utf8-details", "client", "open", frame(9, RESPONSE, p),
          dict(base(RESPONSE, 9, p), response={"code": 3, "message": "rating must be 1 (positive) or -1 (negative) \u2014 \u00e9",
                                               "metadata": md_json(entries), "message_hex": ""}),
          "A UTF-8 message and structured details in status-details-bin.")


# What feedbackd answers a REQUEST it refuses before running it (here: no :method): the status, and in
# status-details-bin a feedback.rpc.v1.Status whose details hold an ErrorInfo (packed with google.rpc's
# type URL) naming the error of section 7.3. Serialized by hand, fields in number order.
refusal = "REQUEST has no :method"
error_info = pb_field(1, b"MISSING_METHOD") + pb_field(2, b"feedback-rpc")
any_info = pb_field(1, b"type.googleapis.com/google.rpc.ErrorInfo") + pb_field(2, error_info)
details = bytes([0x08, 0x03]) + pb_field(2, refusal.encode()) + pb_field(3, any_info)
entries = [("status-details-bin", details)]
p = response_payload(3, refusal, entries)
add_valid("response-refused-error-info", "client", "open", frame(1, RESPONSE, p),
          dict(base(RESPONSE, 1, p), response={"code": 3, "message": refusal, "metadata": md_json(entries), "message_hex": ""}),
          "A call refused before it ran (SPEC.md 6): the reason, MISSING_METHOD, in an ErrorInfo in status-details-bin.")
p = response_payload(42, "from the future")
add_valid("response-unknown-code", "client", "open", frame(4, RESPONSE, p),
          dict(base(RESPONSE, 4, p), response={"code": 42, "message": "from the future", "metadata": [], "message_hex": ""}),
          "A code above 16 decodes as is; the client library reports it as UNKNOWN (2).")
add_valid("cancel", "server", "open", frame(7, CANCEL, b""), base(CANCEL, 7, b""), "Cancel call 7.")
p = bytes.fromhex("0102030405060708")
add_valid("ping", "server", "open", frame(0, PING, p), dict(base(PING, 0, p), ping={"opaque_hex": p.hex()}))
add_valid("pong", "client", "open", frame(0, PONG, p), dict(base(PONG, 0, p), pong={"opaque_hex": p.hex()}))
p = struct.pack(">II", 17, 0) + b"server shutting down"
add_valid("goaway-graceful", "client", "open", frame(0, GOAWAY, p),
          dict(base(GOAWAY, 0, p), goaway={"last_call_id": 17, "error_code": 0, "debug": "server shutting down"}),
          "Graceful shutdown: calls 1..17 will be answered; later calls were not processed and may be retried.")
p = struct.pack(">II", 0, 2)
add_valid("goaway-frame-too-large-no-debug", "client", "open", frame(0, GOAWAY, p),
          dict(base(GOAWAY, 0, p), goaway={"last_call_id": 0, "error_code": 2, "debug": ""}))
p = struct.pack(">II", 0, 5) + b"too many connections"
add_valid("goaway-refused-instead-of-hello", "client", "handshake", frame(0, GOAWAY, p),
          dict(base(GOAWAY, 0, p), goaway={"last_call_id": 0, "error_code": 5, "debug": "too many connections"}),
          "A server refusing a connection sends GOAWAY REFUSED instead of HELLO; GOAWAY is valid as a first frame.")
p = struct.pack(">II", 0, 0)
add_valid("goaway-from-client", "server", "open", frame(0, GOAWAY, p),
          dict(base(GOAWAY, 0, p), goaway={"last_call_id": 0, "error_code": 0, "debug": ""}),
          "A client going away: it sends no more requests.")

# ------------------------------------------------------- invalid: connection errors
PE, FTL, HF = 1, 2, 3
add_invalid("truncated-header", "server", "open", frame(1, CANCEL, b"")[:7], "TRUNCATED", "connection",
            "7 of the 10 header bytes, then end of stream: the decoder needs more bytes; at end of stream it is an error.",
            goaway=PE)
p = request_payload([(":method", SUBMIT)], submit_message(42, 1))
add_invalid("truncated-body", "server", "open", frame(1, REQUEST, p)[:-3], "TRUNCATED", "connection",
            "A header announcing more payload bytes than arrive before end of stream.", goaway=PE)
add_invalid("http-request-on-socket", "server", "handshake", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "FRAME_TOO_LARGE",
            "connection", "An HTTP client: 'GET ' read as a length is 1195725856, over the 1024-byte handshake limit; "
            "rejected after 4 bytes.", goaway=FTL)
add_invalid("length-over-default-limit", "server", "open", header(1048577, 1, REQUEST), "FRAME_TOO_LARGE", "connection",
            "One byte over the default 1 MiB MAX_FRAME_SIZE, with no payload sent: rejected from the header alone.",
            goaway=FTL)
add_invalid("length-over-configured-limit", "server", "open", header(16385, 1, REQUEST), "FRAME_TOO_LARGE", "connection",
            "The decoder was configured with max_frame_size 16384.", goaway=FTL, limits={"max_frame_size": 16384})
add_invalid("reserved-flags", "server", "open", frame(0, PING, bytes(8), flags=0x01), "RESERVED_BITS_SET", "connection",
            "Version 1 defines no flags: every flag bit is reserved.", goaway=PE)
add_invalid("reserved-call-id-bit", "server", "open", frame(0x80000001, CANCEL, b""), "RESERVED_BITS_SET", "connection",
            "The top bit of the call id is reserved.", goaway=PE)
add_invalid("unknown-frame-type", "server", "open", frame(0, 0x08, b""), "UNKNOWN_FRAME_TYPE", "connection",
            "Type 8 is not defined in version 1.", goaway=PE)
add_invalid("frame-type-zero", "server", "open", frame(0, 0x00, b""), "UNKNOWN_FRAME_TYPE", "connection",
            "Type 0 is reserved.", goaway=PE)
add_invalid("bad-magic", "server", "handshake", frame(0, HELLO, b"FBRQ" + struct.pack(">H", 1)), "BAD_MAGIC", "connection",
            "The HELLO's magic is not 'FBRP'.", goaway=HF)
add_invalid("unsupported-version-zero", "server", "handshake", frame(0, HELLO, hello_payload(0)), "UNSUPPORTED_VERSION",
            "connection", "Version 0 does not exist.", goaway=HF)
add_invalid("expected-hello", "server", "handshake", frame(0, PING, bytes(8)), "EXPECTED_HELLO", "connection",
            "The first frame on a connection must be HELLO.", goaway=HF)
add_invalid("request-before-hello", "server", "handshake", frame(1, REQUEST, request_payload([(":method", SUBMIT)])),
            "EXPECTED_HELLO", "connection", "A REQUEST before HELLO.", goaway=HF)
add_invalid("second-hello", "server", "open", frame(0, HELLO, hello_payload(1)), "UNEXPECTED_FRAME", "connection",
            "HELLO is sent once, first.", goaway=PE)
add_invalid("request-to-client", "client", "open", frame(1, REQUEST, request_payload([(":method", SUBMIT)])),
            "UNEXPECTED_FRAME", "connection", "Only clients send REQUEST.", goaway=PE)
add_invalid("response-to-server", "server", "open", frame(1, RESPONSE, response_payload(0, "")), "UNEXPECTED_FRAME",
            "connection", "Only servers send RESPONSE.", goaway=PE)
add_invalid("cancel-to-client", "client", "open", frame(1, CANCEL, b""), "UNEXPECTED_FRAME", "connection",
            "Only clients send CANCEL.", goaway=PE)
add_invalid("request-on-call-id-zero", "server", "open", frame(0, REQUEST, request_payload([(":method", SUBMIT)])),
            "INVALID_CALL_ID", "connection", "REQUEST, RESPONSE and CANCEL need a call id of 1 or more.", goaway=PE)
add_invalid("cancel-on-call-id-zero", "server", "open", frame(0, CANCEL, b""), "INVALID_CALL_ID", "connection",
            "CANCEL on call id 0.", goaway=PE)
add_invalid("ping-on-call-id", "server", "open", frame(5, PING, bytes(8)), "INVALID_CALL_ID", "connection",
            "HELLO, PING, PONG and GOAWAY use call id 0.", goaway=PE)
add_invalid("hello-on-call-id", "server", "handshake", frame(1, HELLO, hello_payload(1)), "INVALID_CALL_ID", "connection",
            "HELLO uses call id 0.", goaway=PE)
add_invalid("ping-short", "server", "open", frame(0, PING, bytes(7)), "INVALID_PAYLOAD_LENGTH", "connection",
            "PING carries exactly 8 bytes.", goaway=PE)
add_invalid("cancel-with-payload", "server", "open", frame(1, CANCEL, b"\x00"), "INVALID_PAYLOAD_LENGTH", "connection",
            "CANCEL carries no payload.", goaway=PE)
add_invalid("goaway-short", "client", "open", frame(0, GOAWAY, bytes(7)), "INVALID_PAYLOAD_LENGTH", "connection",
            "GOAWAY carries at least 8 bytes.", goaway=PE)
add_invalid("hello-short", "server", "handshake", frame(0, HELLO, MAGIC + b"\x00"), "INVALID_PAYLOAD_LENGTH", "connection",
            "HELLO carries at least magic and version (6 bytes).", goaway=PE)
add_invalid("hello-partial-setting", "server", "handshake", frame(0, HELLO, hello_payload(1) + b"\x00\x01\x00"),
            "INVALID_PAYLOAD_LENGTH", "connection", "HELLO settings are 6 bytes each.", goaway=PE)
add_invalid("hello-over-handshake-limit", "server", "handshake", header(1025, 0, HELLO), "FRAME_TOO_LARGE", "connection",
            "Before the handshake no frame may exceed 1024 payload bytes.", goaway=FTL)
add_invalid("setting-frame-size-too-small", "server", "handshake", frame(0, HELLO, hello_payload(1, [(1, 16383)])),
            "INVALID_SETTING", "connection", "MAX_FRAME_SIZE below 16384.", goaway=PE)
add_invalid("setting-frame-size-too-large", "server", "handshake", frame(0, HELLO, hello_payload(1, [(1, 16777216)])),
            "INVALID_SETTING", "connection", "MAX_FRAME_SIZE above 16777215.", goaway=PE)
add_invalid("setting-metadata-size-too-small", "server", "handshake", frame(0, HELLO, hello_payload(1, [(3, 1023)])),
            "INVALID_SETTING", "connection", "MAX_METADATA_SIZE below 1024.", goaway=PE)
add_invalid("setting-duplicate", "server", "handshake", frame(0, HELLO, hello_payload(1, [(2, 10), (2, 20)])),
            "INVALID_SETTING", "connection", "A setting id appears twice.", goaway=PE)
add_invalid("setting-id-zero", "server", "handshake", frame(0, HELLO, hello_payload(1, [(0, 1)])),
            "INVALID_SETTING", "connection", "Setting id 0 is reserved.", goaway=PE)
add_invalid("setting-concurrent-calls-zero", "client", "handshake", frame(0, HELLO, hello_payload(1, [(2, 0)])),
            "INVALID_SETTING", "connection", "A server HELLO announcing MAX_CONCURRENT_CALLS 0: the range is 1 to "
            "2^32-1 (a server that will run no call sends GOAWAY REFUSED instead).", goaway=PE)

# ------------------------------------------------------- version 2: server-streaming calls (SPEC.md 16)
settings = [(1, 65536), (2, 100), (3, 8192), (4, 256)]
p = hello_payload(2, settings)
add_valid("hello-server-version-2", "client", "handshake", frame(0, HELLO, p),
          dict(base(HELLO, 0, p), hello={"version": 2, "settings": [{"id": i, "value": v} for i, v in settings]}),
          "feedbackd's HELLO: version 2, MAX_FRAME_SIZE 65536, 100 calls, 8 KiB metadata, MAX_STREAM_CREDIT 256. A "
          "version-1 client reads it as a HELLO of a newer peer (the connection is version 1) and ignores setting 4.",
          version=2)
entries = [(":method", WATCH_EVENTS), ("authorization", "Bearer " + READ_JWT), ("x-request-id", "req-watch-0001")]
msg = pb_varint(1, 41)
p = request_payload(entries, msg)
add_valid("request-watch-feedback-events-stream", "server", "open", frame(3, REQUEST, p, flags=STREAM),
          dict(base(REQUEST, 3, p, flags=STREAM), request={"method": WATCH_EVENTS, "timeout_ms": None,
                                                          "metadata": md_json(entries[1:]), "message_hex": msg.hex()},
               stream=True),
          "WatchFeedbackEvents(after_event_id=41): a REQUEST with the STREAM flag (0x01) on a version-2 connection, no "
          "timeout (the stream runs until cancelled), the read-scope token and a request id.", version=2)
p = struct.pack(">I", 64)
add_valid("credit", "server", "open", frame(3, CREDIT, p), dict(base(CREDIT, 3, p), credit={"increment": 64}),
          "CREDIT on call 3: the server may send 64 more STREAM_MESSAGEs on it.", version=2)
events = [(42, 7, 1, "user-1234567890", "2026-12-06T10:15:00.001Z"),
          (43, 8, -1, "user-42", "2026-12-06T10:15:00.002Z")]
msg = b"".join(pb_field(1, feedback_event(*e)) for e in events)
add_valid("stream-message-watch-feedback-events", "client", "open", frame(3, STREAM_MESSAGE, msg),
          dict(base(STREAM_MESSAGE, 3, msg), stream_message={"message_hex": msg.hex()}),
          "One message of WatchFeedbackEvents on call 3: a WatchFeedbackEventsResponse with two events {event_id 42, "
          "interaction_id 7, rating 1, subject \"user-1234567890\"} and {event_id 43, interaction_id 8, rating -1, "
          "subject \"user-42\"}.", version=2)
add_valid("stream-message-empty", "client", "open", frame(5, STREAM_MESSAGE, b""),
          dict(base(STREAM_MESSAGE, 5, b""), stream_message={"message_hex": ""}),
          "A STREAM_MESSAGE may carry an empty message (a protobuf message with every field at its default).",
          version=2)
entries = [("x-request-id", "req-watch-0001"), ("resume-after-event-id", "43")]
text = "The reader took no message for 30 seconds: it is too slow for the stream."
p = response_payload(8, text, entries)
add_valid("response-stream-end-resume-after", "client", "open", frame(3, RESPONSE, p),
          dict(base(RESPONSE, 3, p), response={"code": 8, "message": text, "metadata": md_json(entries), "message_hex": ""}),
          "The RESPONSE that ends a stream: RESOURCE_EXHAUSTED for a reader that took no message for the stall timeout, "
          "with resume-after-event-id naming the last event sent (WatchFeedbackEvents resumes after it).", version=2)

add_invalid("stream-flag-on-version-1", "server", "open",
            frame(3, REQUEST, request_payload([(":method", WATCH_EVENTS)]), flags=STREAM), "RESERVED_BITS_SET", "connection",
            "Version 1 defines no flags: a REQUEST with the STREAM flag on a version-1 connection.", goaway=PE)
add_invalid("credit-on-version-1", "server", "open", frame(3, CREDIT, struct.pack(">I", 1)), "UNKNOWN_FRAME_TYPE",
            "connection", "CREDIT (type 9) does not exist on a version-1 connection.", goaway=PE)
add_invalid("stream-message-on-version-1", "client", "open", frame(3, STREAM_MESSAGE, b""), "UNKNOWN_FRAME_TYPE",
            "connection", "STREAM_MESSAGE (type 8) does not exist on a version-1 connection.", goaway=PE)
add_invalid("unknown-frame-type-version-2", "server", "open", frame(0, 0x0A, b""), "UNKNOWN_FRAME_TYPE", "connection",
            "Type 10 is not defined in version 2.", goaway=PE, version=2)
add_invalid("request-unknown-flag", "server", "open", frame(3, REQUEST, request_payload([(":method", WATCH_EVENTS)]), flags=0x02),
            "RESERVED_BITS_SET", "connection", "Version 2 defines one flag, STREAM (0x01), on REQUEST only.", goaway=PE,
            version=2)
add_invalid("stream-flag-on-cancel", "server", "open", frame(3, CANCEL, b"", flags=STREAM), "RESERVED_BITS_SET",
            "connection", "The STREAM flag belongs to REQUEST: on any other frame it is a reserved bit.", goaway=PE,
            version=2)
add_invalid("stream-message-to-server", "server", "open", frame(3, STREAM_MESSAGE, b""), "UNEXPECTED_FRAME", "connection",
            "Only servers send STREAM_MESSAGE.", goaway=PE, version=2)
add_invalid("credit-to-client", "client", "open", frame(3, CREDIT, struct.pack(">I", 1)), "UNEXPECTED_FRAME", "connection",
            "Only clients send CREDIT.", goaway=PE, version=2)
add_invalid("credit-on-call-id-zero", "server", "open", frame(0, CREDIT, struct.pack(">I", 1)), "INVALID_CALL_ID",
            "connection", "CREDIT belongs to a call: call id 1 or more.", goaway=PE, version=2)
add_invalid("stream-message-on-call-id-zero", "client", "open", frame(0, STREAM_MESSAGE, b""), "INVALID_CALL_ID",
            "connection", "STREAM_MESSAGE belongs to a call: call id 1 or more.", goaway=PE, version=2)
add_invalid("credit-short", "server", "open", frame(3, CREDIT, b"\x00\x00\x01"), "INVALID_PAYLOAD_LENGTH", "connection",
            "CREDIT carries exactly 4 bytes.", goaway=PE, version=2)
add_invalid("credit-zero", "server", "open", frame(3, CREDIT, struct.pack(">I", 0)), "INVALID_CREDIT", "connection",
            "A CREDIT increment is 1 to 2^31-1: 0 grants nothing.", goaway=PE, version=2)
add_invalid("credit-over-maximum", "server", "open", frame(3, CREDIT, struct.pack(">I", 0x80000000)), "INVALID_CREDIT",
            "connection", "A CREDIT increment above 2^31-1.", goaway=PE, version=2)
add_invalid("credit-before-hello", "server", "handshake", frame(3, CREDIT, struct.pack(">I", 1)), "EXPECTED_HELLO",
            "connection", "A version-2 receiver knows CREDIT, but the first frame must be HELLO.", goaway=HF, version=2)
add_invalid("setting-stream-credit-zero", "client", "handshake", frame(0, HELLO, hello_payload(2, [(4, 0)])),
            "INVALID_SETTING", "connection", "MAX_STREAM_CREDIT is 1 to 2^31-1.", goaway=PE, version=2)

# ------------------------------------------------------------ invalid: call errors
INVALID_ARGUMENT, RESOURCE_EXHAUSTED = 3, 8


def bad_request(name, payload, error, note, status=INVALID_ARGUMENT, **extra):
    add_invalid(name, "server", "open", frame(11, REQUEST, payload), error, "call", note, status=status, call_id=11, **extra)


bad_request("request-payload-too-short", b"\x00\x00", "TRUNCATED_PAYLOAD",
            "The payload cannot hold the 4-byte metadata length.")
md = block([(":method", SUBMIT)])
bad_request("metadata-length-overrun", struct.pack(">I", len(md) + 1) + md, "METADATA_OVERRUN",
            "metadata_length is one more than the bytes left in the payload.")
bad_request("metadata-entry-value-overrun", struct.pack(">I", 4) + b"\x01a\x00\x05",
            "METADATA_OVERRUN", "An entry's value_length runs past the end of the metadata block.")
bad_request("metadata-entry-key-overrun", struct.pack(">I", 3) + b"\x05ab",
            "METADATA_OVERRUN", "An entry's key_length runs past the end of the metadata block.")
big = block([(":method", SUBMIT), ("x-pad", "a" * 8200)])
bad_request("metadata-too-large", struct.pack(">I", len(big)) + big, "METADATA_TOO_LARGE",
            "metadata_length over the default MAX_METADATA_SIZE of 8192: RESOURCE_EXHAUSTED.", status=RESOURCE_EXHAUSTED)
bad_request("metadata-key-uppercase", request_payload([(":method", SUBMIT), ("Authorization", "Bearer x")]),
            "INVALID_METADATA_KEY", "Keys are lower case.")
bad_request("metadata-key-empty", request_payload([(":method", SUBMIT), ("", "x")]), "INVALID_METADATA_KEY",
            "A key of length 0.")
bad_request("metadata-key-unknown-pseudo", request_payload([(":method", SUBMIT), (":path", "/x")]),
            "INVALID_METADATA_KEY", "Only :method and :timeout are pseudo-keys in version 1.")
bad_request("metadata-key-bare-colon", request_payload([(":method", SUBMIT), (":", "x")]),
            "INVALID_METADATA_KEY", "A pseudo-key needs a name after the colon.")
bad_request("metadata-value-control-character", request_payload([(":method", SUBMIT), ("x-note", "a\nb")]),
            "INVALID_METADATA_VALUE", "A value of a key not ending in -bin is printable ASCII (0x20-0x7E).")
bad_request("metadata-value-non-ascii", request_payload([(":method", SUBMIT), ("x-note", "caf\u00e9".encode("utf-8"))]),
            "INVALID_METADATA_VALUE", "UTF-8 is not allowed in a text value; use a -bin key.")
bad_request("missing-method", request_payload([("authorization", "Bearer x")]), "MISSING_METHOD",
            "A REQUEST without :method.")
bad_request("missing-method-with-invalid-timeout", request_payload([(":timeout", "x")]), "MISSING_METHOD",
            "A REQUEST whose only entry is an invalid :timeout: :method is checked first (step 5 before step 6).")
bad_request("invalid-method-before-invalid-timeout", request_payload([(":timeout", "x"), (":method", "nope")]),
            "INVALID_METHOD", "Both :method and :timeout are invalid, :timeout first in the block: INVALID_METHOD "
            "(the steps' order, not the entries', decides).")
bad_request("duplicate-method", request_payload([(":method", SUBMIT), (":method", HEALTH)]), "DUPLICATE_METADATA_KEY",
            ":method twice.")
bad_request("duplicate-authorization", request_payload([(":method", SUBMIT), ("authorization", "Bearer a"),
                                                        ("authorization", "Bearer b")]),
            "DUPLICATE_METADATA_KEY", "authorization is a reserved key: at most once.")
bad_request("method-without-slash", request_payload([(":method", "feedback.v1.FeedbackService/SubmitFeedback")]),
            "INVALID_METHOD", ":method is /SERVICE/METHOD.")
bad_request("method-empty-part", request_payload([(":method", "/feedback.v1.FeedbackService/")]),
            "INVALID_METHOD", "Both SERVICE and METHOD are non-empty.")
bad_request("timeout-not-digits", request_payload([(":method", SUBMIT), (":timeout", "5s")]), "INVALID_TIMEOUT",
            ":timeout is 1 to 8 ASCII digits of milliseconds.")
bad_request("timeout-too-long", request_payload([(":method", SUBMIT), (":timeout", "123456789")]), "INVALID_TIMEOUT",
            "Nine digits.")
bad_request("timeout-empty", request_payload([(":method", SUBMIT), (":timeout", "")]), "INVALID_TIMEOUT",
            "An empty :timeout.")
bad_request("request-id-too-long", request_payload([(":method", SUBMIT), ("x-request-id", "r" * 129)]),
            "INVALID_METADATA_VALUE", "x-request-id is at most 128 bytes.")


def bad_response(name, payload, error, note):
    add_invalid(name, "client", "open", frame(11, RESPONSE, payload), error, "call", note, call_id=11)


bad_response("response-payload-too-short", struct.pack(">I", 0) + b"\x00\x00", "TRUNCATED_PAYLOAD",
             "A RESPONSE payload shorter than its fixed fields.")
bad_response("response-message-overrun", struct.pack(">II", 5, 100) + b"short", "MESSAGE_OVERRUN",
             "message_length runs past the payload.")
bad_response("response-metadata-overrun", struct.pack(">II", 0, 0) + struct.pack(">I", 9) + b"\x00",
             "METADATA_OVERRUN", "metadata_length runs past the payload.")
bad_response("response-pseudo-key", response_payload(0, "", [(":method", SUBMIT)]), "INVALID_METADATA_KEY",
             "No pseudo-keys are defined for responses.")
bad_response("response-error-with-body", response_payload(5, "gone", [], b"\x08\x01"), "UNEXPECTED_BODY",
             "A RESPONSE whose code is not OK carries no message bytes.")
bad_response("response-invalid-utf8", response_payload(13, "", []).replace(struct.pack(">II", 13, 0), struct.pack(">II", 13, 2) + b"\xc3\x28"),
             "INVALID_MESSAGE", "The status message is not valid UTF-8.")

doc = {
    "spec": "protocol/SPEC.md",
    "protocol_version": 2,
    "defaults": {"handshake_max_frame_size": 1024, "max_frame_size_before_peer_hello": 16384,
                 "max_frame_size": 1048576, "max_metadata_size": 8192, "max_concurrent_calls": 100,
                 "max_stream_credit": 256},
    "how_to_use": (
        "Feed each vector's bytes to a decoder of the given role ('server' decodes what clients send, 'client' what "
        "servers send). state 'handshake': a fresh connection (no HELLO received yet), whose receiver implements "
        "protocol 'version'; state 'open': a HELLO was already received and the connection's version (the lower of "
        "the two HELLOs') is 'version' (1 or 2: frame types, flags and the checks of SPEC.md 2.2 depend on it). "
        "limits, when present, override the defaults. Valid vectors decode to exactly one frame "
        "whose fields equal 'frame' and leave no bytes; when 'canonical' is true, encoding those fields gives 'hex' again "
        "(an encoder writes :method, then :timeout, then the other metadata in order). Invalid vectors with "
        "scope 'connection' make the frame decoder fail with 'error' (TRUNCATED: the decoder asks for more bytes, and "
        "the end of stream then fails with TRUNCATED); the receiver sends GOAWAY with error code 'goaway'. Invalid "
        "vectors with scope 'call' decode as a frame, and its payload then fails with 'error'; a server answers that "
        "call with a RESPONSE of code 'status'. defaults.max_frame_size_before_peer_hello is not a decoder limit: "
        "it is the largest frame payload a side sends before it has received the peer's HELLO (SPEC.md 2.1). A REQUEST with "
        "'stream': true carries the STREAM flag (0x01); a CREDIT's 'credit' names its increment; a STREAM_MESSAGE's "
        "'stream_message' its message bytes."
    ),
    "valid": valid,
    "invalid": invalid,
}
out = pathlib.Path(__file__).with_name("frames.json")
text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
if "--check" in sys.argv:
    if out.read_text() != text:
        sys.exit(f"{out} is stale: run python3 protocol/vectors/generate.py and commit it")
    print(f"{out.name} is up to date ({len(valid)} valid, {len(invalid)} invalid)")
else:
    out.write_text(text)
    print(f"wrote {out} ({len(valid)} valid, {len(invalid)} invalid)")
