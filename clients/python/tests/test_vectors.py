"""Every golden vector of protocol/vectors/frames.json through the Python codec."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import ROOT, served_services

from feedback_rpc import FeedbackEvent, FeedbackEventsPage
from feedback_rpc import _wire as wire
from feedback_rpc._calls import (
    LIST_FEEDBACK_EVENTS,
    LIST_SERVICES,
    events_page,
    list_events_request,
    list_services_request,
    services,
)
from feedback_rpc._proto import feedback_pb2, reflection_pb2

Vector = dict[str, Any]
VECTORS: dict[str, list[Vector]] = json.loads((ROOT / "protocol/vectors/frames.json").read_text())


def decoder_for(vector: Vector) -> wire.FrameDecoder:
    limits = vector.get("limits", {})
    return wire.FrameDecoder(
        vector["role"],
        hello_received=vector["state"] == "open",
        version=vector["version"],
        max_frame_size=limits.get("max_frame_size", wire.DEFAULT_MAX_FRAME_SIZE),
    )


def metadata(entries: list[dict[str, str]]) -> list[tuple[str, wire.MetadataValue]]:
    return [(e["key"], bytes.fromhex(e["value_hex"]) if "value_hex" in e else e["value"]) for e in entries]


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector(vector: Vector) -> None:
    data = bytes.fromhex(vector["hex"])
    expected = vector["frame"]
    frame: wire.Frame | None = None
    for split in range(len(data) + 1):  # every chunking in two parts, including one byte at a time's edges
        decoder = decoder_for(vector)
        decoder.feed(data[:split])
        frame = decoder.next()
        if split < len(data):
            assert frame is None
            decoder.feed(data[split:])
            frame = decoder.next()
        assert frame is not None and decoder.buffered == 0
    assert frame is not None
    assert frame.type == wire.FrameType[expected["type"]]
    assert str(frame.type) == expected["type"]
    assert frame.call_id == expected["call_id"]
    assert frame.flags == expected["flags"]
    assert len(frame.payload) == expected["length"]
    if "hello" in expected:
        hello = wire.decode_hello(frame.payload)
        assert hello.version == expected["hello"]["version"]
        assert hello.settings == [(s["id"], s["value"]) for s in expected["hello"]["settings"]]
        assert wire.encode_hello(hello) == data
    elif "request" in expected:
        request = wire.decode_request(frame.payload)
        fields = expected["request"]
        assert request.method == fields["method"]
        assert request.timeout_ms == fields["timeout_ms"]
        assert request.metadata == metadata(fields["metadata"])
        assert request.message == bytes.fromhex(fields["message_hex"])
        assert (frame.flags == wire.STREAM_FLAG) == expected.get("stream", False)
        if vector["canonical"] and not frame.flags:
            assert wire.encode_request(frame.call_id, request) == data
    elif "response" in expected:
        response = wire.decode_response(frame.payload)
        fields = expected["response"]
        assert (response.code, response.message) == (fields["code"], fields["message"])
        assert response.metadata == metadata(fields["metadata"])
        assert response.body == bytes.fromhex(fields["message_hex"])
        assert wire.encode_response(frame.call_id, response) == data
    elif "goaway" in expected:
        goaway = wire.decode_goaway(frame.payload)
        assert (goaway.last_call_id, goaway.error_code, goaway.debug) == (
            expected["goaway"]["last_call_id"],
            expected["goaway"]["error_code"],
            expected["goaway"]["debug"],
        )
        assert wire.encode_goaway(goaway) == data  # the one GOAWAY encoding
    elif "credit" in expected:
        assert int.from_bytes(frame.payload, "big") == expected["credit"]["increment"]
    elif "stream_message" in expected:
        assert frame.payload.hex() == expected["stream_message"]["message_hex"]
    elif "ping" in expected or "pong" in expected:
        assert frame.payload.hex() == (expected.get("ping") or expected.get("pong"))["opaque_hex"]
    assert wire.encode_frame(frame.type, frame.call_id, frame.payload, frame.flags) == data


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector(vector: Vector) -> None:
    decoder = decoder_for(vector)
    decoder.feed(bytes.fromhex(vector["hex"]))
    if vector["scope"] == "connection":
        if vector["error"] == "TRUNCATED":
            assert decoder.next() is None
            with pytest.raises(wire.WireError) as error:
                decoder.finish()
        else:
            with pytest.raises(wire.WireError) as error:
                decoder.next()
        assert error.value.code == vector["error"]
        assert error.value.scope == "connection"
        assert error.value.goaway_code == vector["goaway"]
        assert isinstance(error.value.goaway_code, wire.GoAwayCode)
    else:
        frame = decoder.next()
        assert frame is not None
        assert frame.call_id == vector["call_id"]
        decode = wire.decode_request if frame.type == wire.FrameType.REQUEST else wire.decode_response
        with pytest.raises(wire.WireError) as error:
            decode(frame.payload)
        assert error.value.code == vector["error"]
        assert error.value.scope == "call"
        if "status" in vector:
            assert error.value.status == vector["status"]


def test_limits_are_the_vectors_defaults() -> None:
    defaults: dict[str, int] = json.loads((ROOT / "protocol/vectors/frames.json").read_text())["defaults"]
    assert wire.HANDSHAKE_MAX_FRAME_SIZE == defaults["handshake_max_frame_size"]
    assert wire.MAX_FRAME_SIZE_BEFORE_PEER_HELLO == defaults["max_frame_size_before_peer_hello"]
    assert wire.DEFAULT_MAX_FRAME_SIZE == defaults["max_frame_size"]
    assert wire.DEFAULT_MAX_METADATA_SIZE == defaults["max_metadata_size"]
    assert wire.DEFAULT_MAX_CONCURRENT_CALLS == defaults["max_concurrent_calls"]


def test_frame_types_and_goaway_codes_are_enums_with_spec_names() -> None:
    assert [(t.name, t.value) for t in wire.FrameType] == [
        ("HELLO", 1), ("REQUEST", 2), ("RESPONSE", 3), ("CANCEL", 4), ("PING", 5), ("PONG", 6), ("GOAWAY", 7),
        ("STREAM_MESSAGE", 8), ("CREDIT", 9),
    ]
    assert [(c.name, c.value) for c in wire.GoAwayCode] == [
        ("NO_ERROR", 0), ("PROTOCOL_ERROR", 1), ("FRAME_TOO_LARGE", 2), ("HANDSHAKE_FAILED", 3),
        ("INTERNAL_ERROR", 4), ("REFUSED", 5),
    ]
    assert wire.GoAwayCode.from_wire(99) is wire.GoAwayCode.PROTOCOL_ERROR  # SPEC.md section 8
    assert wire.decode_goaway(bytes([0, 0, 0, 3, 0, 0, 0, 99])).error_code is wire.GoAwayCode.PROTOCOL_ERROR
    assert f"{wire.FrameType.GOAWAY}" == str(wire.FrameType.GOAWAY) == "GOAWAY"
    assert f"{wire.FrameType.GOAWAY:d}" == "7"


def vector(name: str) -> Vector:
    return next(v for v in VECTORS["valid"] if v["name"] == name)


def test_list_feedback_events_vectors_are_what_the_client_sends_and_reads() -> None:
    """The messages of the ListFeedbackEvents vectors (written by hand in generate.py) are what protobuf and the
    client's own request and result code make of them."""
    request = vector("request-list-feedback-events")["frame"]["request"]
    sent = list_events_request(4294967295, 2, "t", None, None)
    assert request["method"] == sent.method == LIST_FEEDBACK_EVENTS
    assert bytes.fromhex(request["message_hex"]) == sent.message
    assert [e["key"] for e in request["metadata"]] == ["authorization", "x-request-id"]

    body = bytes.fromhex(vector("response-ok-list-feedback-events")["frame"]["response"]["message_hex"])
    assert feedback_pb2.ListFeedbackEventsResponse.FromString(body).SerializeToString() == body  # canonical
    assert events_page(wire.Response(0, "", [], body)) == FeedbackEventsPage(
        (
            FeedbackEvent(4294967296, 42, 1, "user-1234567890", "2026-11-30T00:53:41.123Z", b"user-1234567890"),
            FeedbackEvent(4294967297, 43, -1, "zo\u00eb", "2026-11-30T00:53:42.007Z", "zo\u00eb".encode()),
        ),
        4294967297,
    )


def test_feed_subjects_as_stored() -> None:
    """A subject with a NUL is exact in ``subject``; one that is not UTF-8 comes whole in ``subject_bytes`` (the
    vector's field 6) with its lossy decoding in ``subject``."""
    body = bytes.fromhex(vector("response-ok-list-feedback-events-subject-bytes")["frame"]["response"]["message_hex"])
    assert feedback_pb2.ListFeedbackEventsResponse.FromString(body).SerializeToString() == body  # canonical
    page = events_page(wire.Response(0, "", [], body))
    assert page == FeedbackEventsPage(
        (
            FeedbackEvent(7, 44, 1, "victim\x00attacker", "2026-11-30T00:53:43.000Z", b"victim\x00attacker"),
            FeedbackEvent(8, 45, 1, "\ufffd\ufffda", "2026-11-30T00:53:44.000Z", b"\xff\xfea"),
        ),
        8,
    )


def test_list_services_vectors_are_what_the_client_sends_and_reads() -> None:
    """The ListServices vectors: the client's request (no token, an empty message), and the answer decoded by
    list_services()'s own code into every method feedbackd serves."""
    request = vector("request-list-services")["frame"]["request"]
    sent = list_services_request(2.0, "req-describe-01")
    assert request["method"] == sent.method == LIST_SERVICES
    assert request["timeout_ms"] == sent.timeout_ms == 2000
    assert request["message_hex"] == sent.message.hex() == ""
    assert metadata(request["metadata"]) == sent.metadata == [("x-request-id", "req-describe-01")]
    assert wire.encode_request(4, sent).hex() == vector("request-list-services")["hex"]

    body = bytes.fromhex(vector("response-ok-list-services")["frame"]["response"]["message_hex"])
    assert reflection_pb2.ListServicesResponse.FromString(body).SerializeToString() == body  # canonical
    assert services(wire.Response(0, "", [], body)) == served_services()
