"""Last-N forwarding, active speaker, keyframe detection and gating (pure functions)."""

from __future__ import annotations

from sfu.forwarding import (
    SPEAKER_HOLD,
    KeyframeGate,
    Publication,
    RecentFrames,
    SpeakerOrder,
    forwarding_plan,
    is_keyframe,
)


def speak(order: SpeakerOrder, who: str, start: float, level: int = 30, packets: int = 10) -> bool:
    changed = False
    for i in range(packets):
        changed = order.audio_level(who, level, start + i * 0.02) or changed
    return changed


def test_a_steady_voice_becomes_the_active_speaker_and_leads_the_order() -> None:
    order = SpeakerOrder()
    for pid in ("a", "b", "c"):
        order.add(pid)
    assert not speak(order, "c", 0.0, packets=5)  # a short sound is not speech
    assert not speak(order, "c", 1.0, level=110)  # background noise is not speech
    assert speak(order, "c", 2.0)
    assert (order.active, order.order) == ("c", ["c", "a", "b"])


def test_the_active_speaker_keeps_the_floor_for_the_hold_time() -> None:
    order = SpeakerOrder()
    for pid in ("a", "b"):
        order.add(pid)
    assert speak(order, "a", 0.0)
    assert not speak(order, "b", 0.3)  # within the hold: no flicker
    assert speak(order, "b", 0.3 + SPEAKER_HOLD)
    assert order.order == ["b", "a"]
    order.remove("b")
    assert order.active is None and order.order == ["a"]


def test_the_plan_forwards_audio_screens_last_n_cameras_and_pins_never_ones_own() -> None:
    pubs = [
        Publication("a", "a:0", "audio", "microphone"),
        Publication("a", "a:1", "video", "camera"),
        Publication("b", "b:1", "video", "camera"),
        Publication("c", "c:1", "video", "camera"),
        Publication("c", "c:2", "video", "screen"),
        Publication("b", "b:0", "audio", "microphone", muted=True),
    ]
    plan = forwarding_plan(pubs, ["a", "b", "c"], {"b": frozenset({"c"})}, last_n=1)
    assert plan["a"] == {"b:1", "c:2"}
    assert plan["b"] == {"a:0", "a:1", "c:1", "c:2"}
    assert plan["c"] == {"a:0", "a:1"}


def test_keyframes_are_recognised_for_vp8_and_h264() -> None:
    assert is_keyframe("video/VP8", bytes([0x50, 0x3B, 0x00, 0x9D]))
    assert not is_keyframe("video/VP8", bytes([0x31, 0x02, 0x00]))
    idr = b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce\x00\x00\x01\x65\x88"
    assert is_keyframe("video/H264", idr)
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("audio/opus", b"\xfc")


def test_the_gate_holds_a_new_track_until_its_first_keyframe() -> None:
    gate = KeyframeGate()
    assert gate.admit("s", "t", keyframe=False) and not gate  # not gated; nothing waits
    gate.start("s", "t")
    assert gate and not gate.admit("s", "t", keyframe=False)
    assert gate.admit("s", "t", keyframe=True)
    assert gate.admit("s", "t", keyframe=False) and not gate


def test_recent_frames_replay_from_the_last_keyframe_while_they_are_few() -> None:
    recent: RecentFrames[str] = RecentFrames(limit=3)
    recent.add("t", "d0", keyframe=False)  # no keyframe yet: nothing to start from
    assert recent.since_keyframe("t") == []
    recent.add("t", "k1", keyframe=True)
    recent.add("t", "d1", keyframe=False)
    recent.add("t", "d2", keyframe=False)
    assert recent.since_keyframe("t") == ["k1", "d1", "d2"]
    recent.add("t", "d3", keyframe=False)  # past the limit: too old to replay
    assert recent.since_keyframe("t") == []
    recent.add("t", "k2", keyframe=True)
    assert recent.since_keyframe("t") == ["k2"]
    recent.forget("t")
    assert recent.since_keyframe("t") == []
