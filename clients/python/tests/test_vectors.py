"""Every golden vector of protocol/vectors/frames.json through the Python codec."""
import json
import pathlib

import pytest

from feedback_rpc import _wire as wire

VECTORS = json.loads((pathlib.Path(__file__).resolve().parents[3] / "protocol/vectors/frames.json").read_text())
TYPES = {name: number for number, name in wire.TYPE_NAMES.items()}


def decoder_for(vector):
    limits = vector.get("limits", {})
    return wire.FrameDecoder(vector["role"], hello_received=vector["state"] == "open",
                             max_frame_size=limits.get("max_frame_size", wire.DEFAULT_MAX_FRAME_SIZE))


def metadata(entries):
    return [(e["key"], bytes.fromhex(e["value_hex"]) if "value_hex" in e else e["value"]) for e in entries]


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector(vector):
    data = bytes.fromhex(vector["hex"])
    expected = vector["frame"]
    for split in range(len(data) + 1):  # every chunking in two parts, including one byte at a time's edges
        decoder = decoder_for(vector)
        decoder.feed(data[:split])
        frame = decoder.next()
        if split < len(data):
            assert frame is None
            decoder.feed(data[split:])
            frame = decoder.next()
        assert frame is not None and decoder.buffered == 0
    assert frame.type == TYPES[expected["type"]]
    assert frame.call_id == expected["call_id"]
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
        if vector["canonical"]:
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
            expected["goaway"]["last_call_id"], expected["goaway"]["error_code"], expected["goaway"]["debug"])
    elif "ping" in expected or "pong" in expected:
        assert frame.payload.hex() == (expected.get("ping") or expected.get("pong"))["opaque_hex"]
    assert wire.encode_frame(frame.type, frame.call_id, frame.payload) == data


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector(vector):
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
    else:
        frame = decoder.next()
        assert frame.call_id == vector["call_id"]
        decode = wire.decode_request if frame.type == wire.REQUEST else wire.decode_response
        with pytest.raises(wire.WireError) as error:
            decode(frame.payload)
        assert error.value.code == vector["error"]
        assert error.value.scope == "call"
        if "status" in vector:
            assert error.value.status == vector["status"]


def vector(name):
    return next(v for v in VECTORS["valid"] if v["name"] == name)


def test_list_feedback_events_vectors_are_what_the_client_sends_and_reads():
    """The messages of the ListFeedbackEvents vectors (written by hand in generate.py) are what protobuf and the
    client's own request and result code make of them."""
    from feedback_rpc import FeedbackEvent, FeedbackEventsPage
    from feedback_rpc._calls import LIST_FEEDBACK_EVENTS, events_page, list_events_request
    from feedback_rpc._proto import feedback_pb2

    request = vector("request-list-feedback-events")["frame"]["request"]
    sent = list_events_request(4294967295, 2, "t", None, None)
    assert request["method"] == sent.method == LIST_FEEDBACK_EVENTS
    assert bytes.fromhex(request["message_hex"]) == sent.message
    assert [e["key"] for e in request["metadata"]] == ["authorization", "x-request-id"]

    body = bytes.fromhex(vector("response-ok-list-feedback-events")["frame"]["response"]["message_hex"])
    assert feedback_pb2.ListFeedbackEventsResponse.FromString(body).SerializeToString() == body  # canonical
    assert events_page(wire.Response(0, "", [], body)) == FeedbackEventsPage((
        FeedbackEvent(4294967296, 42, 1, "user-1234567890", "2026-11-30T00:53:41.123Z"),
        FeedbackEvent(4294967297, 43, -1, "zo\u00eb", "2026-11-30T00:53:42.007Z"),
    ), 4294967297)
