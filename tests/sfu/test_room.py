"""The meeting core: lobby, moderation, hands, reactions, chat, limits (no sockets, no sleeps)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu.errors import SignalingError
from sfu.forwarding import Publication
from sfu.room import (
    CLOSE_ENDED,
    CLOSE_FULL,
    CLOSE_REFUSED,
    CLOSE_REMOVED,
    Action,
    Close,
    MeetingRoom,
    Newcomer,
    Send,
)
from sfu.signaling import Chat, Leave, Moderate, Pin, RaiseHand, React, SetMuted


def sent(actions: list[Action], to: str, kind: str) -> list[dict[str, object]]:
    return [
        a.message.fields
        for a in actions
        if isinstance(a, Send) and a.to == to and a.message.type == kind
    ]


def closes(actions: list[Action]) -> dict[str, int]:
    return {a.participant: a.code for a in actions if isinstance(a, Close)}


# 7 December 2026, 19:20:05.250 in Paris.
WALL_CLOCK_MS = 1_796_667_605_250


def room_with(
    *roles: str, max_participants: int = 10, last_n: int = 6
) -> tuple[MeetingRoom, list[str]]:
    room = MeetingRoom(
        "space-1",
        max_participants=max_participants,
        last_n=last_n,
        wall_clock=lambda: WALL_CLOCK_MS / 1000,
    )
    ids = [room.connect(Newcomer(f"{r}{i}", r), now=0.0)[0] for i, r in enumerate(roles)]
    return room, ids


def test_a_member_is_welcomed_with_who_is_there_and_others_are_told() -> None:
    room, (host,) = room_with("host")
    bob, actions = room.connect(Newcomer("Bob", "member"), now=1.0)
    welcome = sent(actions, bob, "welcome")[0]
    assert [p["name"] for p in welcome["participants"]] == ["host0"]  # type: ignore[index]
    assert sent(actions, host, "joined")[0]["participant"]["name"] == "Bob"  # type: ignore[index]
    actions = room.disconnect(bob, now=2.0)
    assert sent(actions, host, "left") == [{"participant": bob}]


def test_a_guest_waits_in_the_lobby_until_a_host_admits_them() -> None:
    room, (host,) = room_with("host")
    guest, actions = room.connect(Newcomer("Invitée", "guest", lobby=True), now=1.0)
    assert sent(actions, guest, "lobby") == [{"you": guest}]
    assert sent(actions, host, "lobby_changed") == [{"waiting": [{"id": guest, "name": "Invitée"}]}]
    assert not room.may_publish(guest)
    with pytest.raises(SignalingError, match="wait until a host lets you in"):
        room.handle(guest, Chat("hello?"), now=2.0)
    actions = room.handle(host, Moderate("admit", guest), now=3.0)
    assert sent(actions, guest, "welcome")
    assert sent(actions, host, "joined")
    assert sent(actions, host, "lobby_changed") == [{"waiting": []}]
    assert room.may_publish(guest)


def test_a_refused_guest_is_closed_and_a_member_cannot_moderate() -> None:
    room, (host, member) = room_with("host", "member")
    guest, _ = room.connect(Newcomer("G", "guest", lobby=True), now=1.0)
    with pytest.raises(SignalingError, match="only hosts may do that"):
        room.handle(member, Moderate("admit", guest), now=2.0)
    actions = room.handle(host, Moderate("refuse", guest), now=2.0)
    assert closes(actions) == {guest: CLOSE_REFUSED}
    assert guest not in room.participants


def test_hosts_mute_one_or_all_remove_and_end_for_all() -> None:
    room, (host, a, b) = room_with("host", "member", "member")
    for pid in (host, a, b):
        room.set_tracks(pid, [Publication(pid, f"{pid}:0", "audio", "microphone")])
    actions = room.handle(host, Moderate("mute", a), now=1.0)
    assert sent(actions, b, "muted") == [
        {"participant": a, "track": f"{a}:0", "muted": True, "by": host}
    ]
    assert room.publication(f"{a}:0").muted  # type: ignore[union-attr]
    actions = room.handle(host, Moderate("mute_all"), now=2.0)
    assert [m["participant"] for m in sent(actions, a, "muted")] == [
        b
    ]  # a already muted, host spared
    actions = room.handle(host, Moderate("remove", b), now=3.0)
    assert closes(actions) == {b: CLOSE_REMOVED}
    assert sent(actions, a, "left") == [{"participant": b}]
    actions = room.handle(host, Moderate("end"), now=4.0)
    assert closes(actions) == {host: CLOSE_ENDED, a: CLOSE_ENDED}
    late, actions = room.connect(Newcomer("Late", "member"), now=5.0)
    assert closes(actions) == {late: CLOSE_ENDED}


def test_a_participant_unmutes_itself_and_others_see_it() -> None:
    room, (a, b) = room_with("member", "member")
    room.set_tracks(a, [Publication(a, f"{a}:1", "video", "camera")])
    assert sent(room.handle(a, SetMuted(f"{a}:1", True), now=1.0), b, "muted")[0]["muted"] is True
    assert room.handle(a, SetMuted(f"{a}:1", True), now=1.5) == []  # no change, no noise
    assert sent(room.handle(a, SetMuted(f"{a}:1", False), now=2.0), b, "muted")[0]["muted"] is False
    with pytest.raises(SignalingError, match="no such track of yours"):
        room.handle(b, SetMuted(f"{a}:1", True), now=3.0)


def test_hands_reactions_and_chat_reach_everyone_and_chat_history_greets_newcomers() -> None:
    room, (a, b) = room_with("member", "member")
    assert sent(room.handle(a, RaiseHand(True), now=1.0), b, "hand") == [
        {"participant": a, "raised": True}
    ]
    assert sent(room.handle(b, React("🎉"), now=2.0), a, "reaction") == [
        {"participant": b, "emoji": "🎉"}
    ]
    line = sent(room.handle(a, Chat("Bonjour à tous"), now=3.0), b, "chat")[0]
    assert line["text"] == "Bonjour à tous" and line["name"] == "member0"
    # Stamped by the wall clock, in milliseconds (not the monotonic `now`): a time of day.
    assert line["at"] == WALL_CLOCK_MS
    c, actions = room.connect(Newcomer("C", "member"), now=4.0)
    welcome = sent(actions, c, "welcome")[0]
    assert [m["text"] for m in welcome["chat"]] == ["Bonjour à tous"]  # type: ignore[union-attr]
    assert [p["hand"] for p in welcome["participants"]] == [True, False]  # type: ignore[union-attr]


def test_the_room_refuses_past_its_maximum_lobby_included() -> None:
    room, _ = room_with("host", "member", max_participants=3)
    room.connect(Newcomer("G", "guest", lobby=True), now=1.0)
    extra, actions = room.connect(Newcomer("X", "member"), now=2.0)
    assert closes(actions) == {extra: CLOSE_FULL}
    assert extra not in room.participants


def test_leave_closes_the_connection_and_tells_the_others() -> None:
    room, (a, b) = room_with("member", "member")
    actions = room.handle(a, Leave(), now=1.0)
    assert closes(actions) == {a: 1000}
    assert sent(actions, b, "left") == [{"participant": a}]
    assert room.handle(a, Chat("ghost"), now=2.0) == []


def test_forwarding_follows_tracks_mutes_pins_and_speakers() -> None:
    room, (a, b, c) = room_with("member", "member", "member", last_n=1)
    for pid in (a, b, c):
        room.set_tracks(
            pid,
            [
                Publication(pid, f"{pid}:0", "audio", "microphone"),
                Publication(pid, f"{pid}:1", "video", "camera"),
            ],
        )
    plan = room.forwarding()
    # Everyone hears everyone; with N=1 each sees the first other participant's camera.
    assert plan[c] == {f"{a}:0", f"{b}:0", f"{a}:1"}
    # c speaks: it becomes the one camera everyone else sees.
    for i in range(10):
        room.audio_level(c, 30, now=10.0 + i * 0.02)
    assert room.forwarding()[a] == {f"{b}:0", f"{c}:0", f"{c}:1"}
    room.handle(a, Pin((b,)), now=11.0)
    assert room.forwarding()[a] == {f"{b}:0", f"{c}:0", f"{c}:1", f"{b}:1"}
    room.handle(c, SetMuted(f"{c}:1", True), now=12.0)  # camera off: not forwarded
    assert f"{c}:1" not in room.forwarding()[a]
    room.set_tracks(b, [Publication(b, f"{b}:0", "audio", "microphone")])
    assert room.forwarding()[a] == {f"{b}:0", f"{c}:0"}


MESSAGES = st.one_of(
    st.builds(SetMuted, st.sampled_from(["p1:0", "p2:0", "p9:0"]), st.booleans()),
    st.builds(RaiseHand, st.booleans()),
    st.builds(React, st.just("👍")),
    st.builds(Chat, st.text(min_size=1, max_size=5)),
    st.builds(Pin, st.lists(st.sampled_from(["p1", "p2", "p3", "p4"]), max_size=3).map(tuple)),
    st.builds(
        Moderate,
        st.sampled_from(["admit", "refuse", "mute", "remove"]),
        st.sampled_from(["p1", "p2", "p3", "p4", "p9"]),
    ),
    st.builds(Moderate, st.sampled_from(["mute_all", "end"])),
    st.builds(Leave),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), MESSAGES | st.none()), max_size=30
    )
)
def test_any_sequence_of_messages_keeps_the_room_consistent(
    steps: list[tuple[str, object]],
) -> None:
    room = MeetingRoom("space-1", max_participants=10, last_n=2)
    room.connect(Newcomer("Host", "host"), now=0.0)
    room.connect(Newcomer("Member", "member"), now=0.0)
    room.connect(Newcomer("Guest", "guest", lobby=True), now=0.0)
    room.connect(Newcomer("Late", "member"), now=0.0)
    for pid in ("p1", "p2"):
        room.set_tracks(pid, [Publication(pid, f"{pid}:0", "audio", "microphone")])
    for i, (actor, message) in enumerate(steps):
        now = 1.0 + i
        try:
            if message is None:
                actions = room.disconnect(actor, now)
            else:
                actions = room.handle(actor, message, now)  # type: ignore[arg-type]
        except SignalingError:
            continue
        for action in actions:
            if isinstance(action, Send):
                action.message.to_json()  # always serialisable
        plan = room.forwarding()
        joined = {p.id for p in room.joined()}
        assert set(plan) == joined
        for sub, tracks in plan.items():
            assert all(not t.startswith(f"{sub}:") for t in tracks)
            assert all(t.split(":")[0] in joined for t in tracks)


def test_a_transceiver_reused_for_another_source_is_republished() -> None:
    room, (a, b) = room_with("member", "member")
    room.set_tracks(a, [Publication(a, f"{a}:1", "video", "camera")])
    room.handle(a, SetMuted(f"{a}:1", True), now=1.0)
    actions = room.set_tracks(a, [Publication(a, f"{a}:1", "video", "screen")])
    assert sent(actions, b, "unpublished") == [{"participant": a, "track": f"{a}:1"}]
    published = sent(actions, b, "published")
    assert [(m["source"], m["muted"]) for m in published] == [("screen", False)]
    assert room.set_tracks(a, [Publication(a, f"{a}:1", "video", "screen")]) == []


def test_a_publish_only_participant_is_planned_nothing_to_receive() -> None:
    room, (host, bob) = room_with("host", "member")
    camera, _ = room.connect(Newcomer("Caméra", "member", mode="publish-only"), now=1.0)
    for who in (host, camera):
        room.set_tracks(who, [Publication(who, f"{who}:v", "video", "camera")])
    plan = room.forwarding()
    assert camera not in plan  # no subscribe connection: no offer to answer
    assert plan[bob] == {f"{host}:v", f"{camera}:v"} and room.may_publish(camera)


def test_a_receive_only_participant_may_not_publish_and_takes_no_camera_place() -> None:
    room = MeetingRoom("space-1", max_participants=10, last_n=1)
    recorder, actions = room.connect(Newcomer("Enregistreur", "member", mode="receive-only"), 0)
    assert sent(actions, recorder, "welcome")[0]["mode"] == "receive-only"
    alice, actions = room.connect(Newcomer("Alice", "member"), now=1.0)
    assert sent(actions, recorder, "joined")[0]["participant"]["mode"] == "both"  # type: ignore[index]
    bob, _ = room.connect(Newcomer("Bob", "member"), now=2.0)
    assert not room.may_publish(recorder)
    room.set_tracks(alice, [Publication(alice, "a:v", "video", "camera")])
    room.set_tracks(bob, [Publication(bob, "b:v", "video", "camera")])
    plan = room.forwarding()
    # Last-N of 1, nobody has spoken: the join order, the recorder (first in) left out of it.
    assert plan[bob] == {"a:v"} and plan[alice] == {"b:v"}
    assert plan[recorder] == {"a:v"}
    with pytest.raises(ValueError, match="mode"):
        room.connect(Newcomer("X", "member", mode="both-ways"), now=3.0)
