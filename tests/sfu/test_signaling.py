"""Signaling messages: strict validation with exact errors, and the round trip."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.errors import SignalingError
from sfu.signaling import (
    CLIENT_MESSAGES,
    MAX_MESSAGE_BYTES,
    Candidate,
    Chat,
    Leave,
    Moderate,
    Pin,
    Publish,
    RaiseHand,
    React,
    ServerMessage,
    SetMuted,
    SubscribeAnswer,
    TrackSource,
    parse_client,
)

MESSAGES = [
    Publish("v=0\r\n", (TrackSource("0", "microphone"), TrackSource("1", "camera"))),
    SubscribeAnswer("v=0\r\n", 3),
    Candidate("publish", "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0),
    SetMuted("p1:0", True),
    RaiseHand(True),
    React("👍"),
    Chat("bonjour"),
    Pin(("p2", "p3")),
    Moderate("mute", "p2"),
    Moderate("end"),
    Leave(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_every_client_message_survives_the_round_trip(message: object) -> None:
    assert parse_client(message.to_json()) == message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("[]", "message must be a JSON object"),
        ("{", "message is not JSON"),
        ('{"type": "dance"}', "unknown message type 'dance'"),
        ('{"type": "hand"}', "'raised' is missing"),
        ('{"type": "hand", "raised": 1}', "'raised' must be a bool"),
        ('{"type": "subscribe_answer", "sdp": "x", "revision": true}', "'revision' must be a int"),
        ('{"type": "chat", "text": "   "}', "'text' is empty"),
        ('{"type": "chat", "text": "a", "to": "p2"}', "unknown field 'to'"),
        ('{"type": "reaction", "emoji": "💩"}', "'emoji' must be one of"),
        ('{"type": "moderate", "action": "ban", "participant": "p1"}', "'action' must be one of"),
        ('{"type": "moderate", "action": "mute"}', "'mute' needs a participant"),
        (
            '{"type": "moderate", "action": "end", "participant": "p1"}',
            "'end' takes no participant",
        ),
        ('{"type": "candidate", "pc": "both", "candidate": ""}', "'pc' must be"),
        (
            '{"type": "publish", "sdp": "", "tracks": [{"mid": "0", "source": "tv"}]}',
            "'source' must be one of",
        ),
        (
            '{"type": "publish", "sdp": "", "tracks": '
            '[{"mid": "0", "source": "camera"}, {"mid": "0", "source": "screen"}]}',
            "'tracks' names a mid twice",
        ),
    ],
)
def test_bad_messages_are_refused_with_the_reason(data: str, error: str) -> None:
    with pytest.raises(SignalingError, match=error.replace("(", r"\(")) as caught:
        parse_client(data)
    assert caught.value.code == 1008


def test_oversized_messages_and_fields_close_with_1009() -> None:
    with pytest.raises(SignalingError) as caught:
        parse_client(" " * (MAX_MESSAGE_BYTES + 1))
    assert caught.value.code == 1009
    with pytest.raises(SignalingError, match="'text' is longer than 2000") as caught:
        parse_client(json.dumps({"type": "chat", "text": "a" * 2001}))
    assert caught.value.code == 1009


def test_server_messages_serialise_with_their_fields() -> None:
    message = ServerMessage("chat", {"participant": "p1", "text": "salut é"})
    assert json.loads(message.to_json()) == {"type": "chat", "participant": "p1", "text": "salut é"}
    assert ServerMessage.parse(message.to_json()) == message


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from([*CLIENT_MESSAGES, "", "nope"]),
    fields=st.dictionaries(
        st.sampled_from(["sdp", "tracks", "revision", "pc", "candidate", "track", "muted"])
        | st.sampled_from(["raised", "emoji", "text", "participants", "action", "participant"])
        | st.text(max_size=8),
        JSON_VALUES,
        max_size=5,
    ),
)
def test_any_json_object_parses_or_is_refused_with_a_signaling_error(
    kind: str, fields: dict[str, object]
) -> None:
    try:
        message = parse_client(json.dumps({"type": kind, **fields}))
    except SignalingError:
        return
    assert parse_client(message.to_json()) == message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_are_refused_cleanly(data: bytes | str) -> None:
    with contextlib.suppress(SignalingError):
        parse_client(data)
