"""Real aiortc peers against the SFU on loopback: subscribers see the very pictures sent,
keyframe requests relayed and coalesced, join/leave and screen-share renegotiation, and a
clean teardown. The bots receive through aiortc's public API (decoded frames)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaPlayer
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket, is_rtcp
from aiortc.sdp import SessionDescription

from sfu.config import IceConfig, SfuConfig
from sfu.node import SfuNode
from sfu.peers import PublisherPeer, SubscriberPeer
from sfu.room_runtime import Member, RoomRuntime
from tests.support.sfu_media import decoded_pictures, write_test_h264, write_test_video
from tests.support.sfu_peers import NodeBot, RtpPayloads
from tests.support.waiting import until_passes

LOOPBACK_ICE = IceConfig(host_addresses=("127.0.0.1",), ice_servers=())


@pytest.fixture(scope="module")
def vp8_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~6 s of 320×240 VP8 (keyframe every 15 frames) and Opus, encoded once by PyAV."""
    return write_test_video(
        tmp_path_factory.mktemp("media") / "pattern.webm", seconds=6, audio=True
    )


@pytest.fixture
async def node() -> AsyncIterator[SfuNode]:
    sfu = SfuNode(SfuConfig(ice=LOOPBACK_ICE, keyframe_interval=0.3))
    yield sfu
    await sfu.close()


class ManualClock:
    """The SFU's clock, moved on by the test: keyframe-request intervals pass when it says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def codecs(pc: RTCPeerConnection, mid: str) -> list[str]:
    """The codecs negotiated for one transceiver of a bot's subscribe connection, the one
    media is sent in first (its answer, as the SFU reads it)."""
    description = pc.localDescription
    assert description is not None
    session = SessionDescription.parse(description.sdp)
    media = next(m for m in session.media if m.rtp.muxId == mid)
    return [codec.mimeType for codec in media.rtp.codecs]


def udp_sockets() -> int:
    return len(psutil.Process().net_connections(kind="udp"))


def only_loopback_sockets() -> None:
    for conn in psutil.Process().net_connections(kind="udp"):
        assert conn.laddr.ip == "127.0.0.1", conn
        if conn.raddr:
            assert conn.raddr.ip == "127.0.0.1", conn


def players(path: Path, count: int = 1) -> list[MediaPlayer]:
    return [MediaPlayer(str(path), decode=False) for _ in range(count)]


async def camera_publisher(node: SfuNode, path: Path) -> NodeBot:
    """Alice, in "room", publishing the video of `path` as her camera, answered."""
    alice = await NodeBot(node, "room", "Alice").join()
    (player,) = players(path)
    await alice.publish([(player.video, "camera")])
    await alice.wait_for(lambda: alice.got("publish_answer"))
    return alice


async def test_a_subscriber_sees_exactly_the_pictures_the_publisher_sent(
    node: SfuNode, vp8_file: Path
) -> None:
    alice = await NodeBot(node, "room", "Alice").join()
    bob = await NodeBot(node, "room", "Bob").join()
    (player,) = players(vp8_file)
    await alice.publish([(player.video, "camera"), (player.audio, "microphone")])
    published = await bob.wait_for(lambda: [m for m in bob.got("published")])
    assert {m.fields["source"] for m in published} == {"camera", "microphone"}
    video_track = next(m.fields["track"] for m in published if m.fields["kind"] == "video")

    def enough() -> bool:
        mid = bob.received_track(video_track)
        return mid is not None and len(bob.pictures(mid)) >= 60

    await bob.wait_for(enough)
    only_loopback_sockets()
    # They went out from C (`sfu.native`), fanned out to the track's subscribers.
    recipients = node.rooms["room"]._recipients[video_track]
    assert (recipients.c_count, recipients.others) == (1, [])
    # Decoded, they are the file's own pictures one for one, from a keyframe on: forwarded,
    # not decoded and encoded again (that would change pixels).
    pictures = decoded_pictures(vp8_file)
    start = pictures.start_of(bob.pictures(str(bob.received_track(video_track))))
    assert start in pictures.keyframes, "the first forwarded frame is a keyframe"
    audio_mid = next(mid for mid, t in bob.tracks.items() if t and t != video_track)
    await bob.wait_for(lambda: len(bob.frames.get(audio_mid, [])) >= 20)
    assert {(f.kind, f.sample_rate) for f in bob.frames[audio_mid]} == {("audio", 48000)}
    assert codecs(bob.sub, audio_mid)[0].lower() == "audio/opus"
    # The SFU estimates no bandwidth for publishers: no REMB announced, no estimator run;
    # NACK and PLI stay negotiated.
    answer = str(alice.got("publish_answer")[0].fields["sdp"])
    assert "goog-remb" not in answer
    assert " nack\r\n" in answer and " nack pli\r\n" in answer
    assert alice.member is not None and isinstance(alice.member, Member)
    publisher = alice.member.publisher
    assert publisher is not None
    for transceiver in publisher.pc.getTransceivers():
        receiver = transceiver.receiver
        assert receiver._RTCRtpReceiver__remote_bitrate_estimator is None  # type: ignore[attr-defined]
    await alice.leave()
    await bob.leave()


async def test_vp8_goes_on_in_the_publishers_own_rtp_payloads(
    node: SfuNode, vp8_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What aiortc sends, publisher's packets included (the SFU sends its own otherwise).
    sent: list[RtpPacket] = []
    send_rtp = RTCDtlsTransport._send_rtp

    async def recorded(transport: RTCDtlsTransport, data: bytes) -> None:
        if not is_rtcp(data):
            sent.append(RtpPacket.parse(data))
        await send_rtp(transport, data)

    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", recorded)
    alice = await camera_publisher(node, vp8_file)
    bob = await NodeBot(node, "room", "Bob").join()
    (mid,) = await bob.wait_for(lambda: list(bob.receivers))
    wire = RtpPayloads(bob.receivers[mid])
    await bob.wait_for(lambda: len(wire.payloads) >= 30)
    ssrc = alice.pub.getTransceivers()[0].sender._ssrc
    published = [p.payload for p in sent if p.ssrc == ssrc]
    received = list(wire.payloads)
    # Payload descriptors (picture ids included) and partitions as the publisher made them.
    start = published.index(received[0])
    assert received == published[start : start + len(received)]
    await alice.leave()
    await bob.leave()


async def test_a_subscribers_keyframe_requests_reach_the_publisher_coalesced(
    vp8_file: Path,
) -> None:
    clock = ManualClock()
    node = SfuNode(SfuConfig(ice=LOOPBACK_ICE, keyframe_interval=0.3), clock=clock)
    alice = await camera_publisher(node, vp8_file)
    keyframes = node.rooms["room"].keyframes
    # What reaches the SFU, and what it decides to send on, as the room's coalescer sees it.
    asked: list[float] = []
    sent: list[float] = []
    request, due = keyframes.request, keyframes.due

    def counted_request(track: str, now: float, *, urgent: bool = False) -> bool:
        asked.append(now)
        if go := request(track, now, urgent=urgent):
            sent.append(now)
        return go

    def counted_due(now: float) -> list[str]:
        ready = due(now)
        sent.extend(now for _ in ready)
        return ready

    keyframes.request = counted_request  # type: ignore[method-assign]
    keyframes.due = counted_due  # type: ignore[method-assign]
    bob = await NodeBot(node, "room", "Bob").join()
    # A new subscriber triggers a keyframe request at once.
    await alice.wait_for(lambda: sum(alice.plis_received.values()) >= 1, timeout=3)
    await bob.wait_for(lambda: any(len(f) >= 10 for f in bob.frames.values()))
    mid = next(iter(bob.frames))
    room = node.rooms["room"]
    clock.now += 1.0  # long after that request
    before = sum(alice.plis_received.values())
    for _ in range(20):
        await bob.send_pli(mid)
    # One goes at once; the others are folded into one, remembered for when 300 ms are up.
    await alice.wait_for(lambda: sum(alice.plis_received.values()) == before + 1)
    await alice.wait_for(lambda: room.keyframes.next_due() is not None)
    clock.now += 0.5  # past the 300 ms
    await alice.wait_for(lambda: sum(alice.plis_received.values()) >= before + 2)
    # And no more, however many of the twenty came late: the clock stands still from here.
    assert sum(alice.plis_received.values()) == before + 2
    await alice.leave()
    await bob.leave()
    await node.close()


async def test_join_leave_and_screen_share_renegotiate_the_subscriber(
    node: SfuNode, vp8_file: Path
) -> None:
    alice = await NodeBot(node, "room", "Alice").join()
    bob = await NodeBot(node, "room", "Bob").join()
    camera, screen = players(vp8_file, 2)
    await alice.publish([(camera.video, "camera")])
    await bob.wait_for(lambda: len([t for t in bob.tracks.values() if t]) == 1)

    # Screen share: a second video track, source "screen", renegotiated on both connections.
    await alice.publish([(screen.video, "screen")])
    shared = await bob.wait_for(
        lambda: [m for m in bob.got("published") if m.fields["source"] == "screen"]
    )
    screen_track = shared[0].fields["track"]
    screen_mid = await bob.wait_for(lambda: bob.received_track(screen_track))
    await bob.wait_for(lambda: len(bob.pictures(screen_mid)) >= 10)
    assert len([t for t in bob.tracks.values() if t]) == 2

    # Stopping the share removes it for the subscriber; the camera keeps flowing.
    screen_pub_mid = next(
        mid for mid, t in alice.pub_transceivers.items() if t.sender.track is screen.video
    )
    await alice.stop_publishing(screen_pub_mid)
    await bob.wait_for(
        lambda: [m for m in bob.got("unpublished") if m.fields["track"] == screen_track]
    )
    await bob.wait_for(lambda: bob.received_track(screen_track) is None)
    stopped_at = len(bob.pictures(screen_mid))
    camera_mid = next(mid for mid, t in bob.tracks.items() if t)
    camera_at = len(bob.frames[camera_mid])
    # Half a second of camera frames (same rate as the screen's): the screen's are no more.
    await bob.wait_for(lambda: len(bob.frames[camera_mid]) > camera_at + 15)
    assert len(bob.frames[screen_mid]) <= stopped_at + 2

    # A third participant joins, is seen, then leaves: everyone is told.
    carol = await NodeBot(node, "room", "Carol").join()
    welcome = carol.got("welcome")[0].fields
    assert {p["name"] for p in welcome["participants"]} == {"Alice", "Bob"}
    joined = await bob.wait_for(lambda: bob.got("joined"))
    carol_id = joined[0].fields["participant"]["id"]
    await carol.wait_for(lambda: any(carol.frames.values()))
    await carol.leave()
    await bob.wait_for(lambda: [m for m in bob.got("left") if m.fields["participant"] == carol_id])
    await alice.leave()
    await alice.wait_for(lambda: True)
    await bob.wait_for(lambda: [m for m in bob.got("left")] and len(bob.got("left")) == 2)
    await bob.leave()


async def test_nothing_is_left_after_everyone_leaves(node: SfuNode, vp8_file: Path) -> None:
    gc.collect()
    sockets_before = udp_sockets()
    tasks_before = len(asyncio.all_tasks())
    threads_before = threading.active_count()
    bots = [await NodeBot(node, "room", name).join() for name in ("A", "B", "C")]
    media = players(vp8_file, 3)
    for bot, player in zip(bots, media, strict=True):
        await bot.publish([(player.video, "camera"), (player.audio, "microphone")])
    for bot in bots:
        await bot.wait_for(lambda bot=bot: len([f for f in bot.frames.values() if f]) >= 4)
    assert udp_sockets() > sockets_before
    for bot in bots:
        await bot.leave()
    assert node.rooms == {}
    del bots, media, bot, player

    def nothing_left() -> None:
        gc.collect()
        assert udp_sockets() == sockets_before
        alive = [o for o in gc.get_objects() if isinstance(o, RTCPeerConnection | PublisherPeer)]
        alive += [o for o in gc.get_objects() if isinstance(o, SubscriberPeer | RoomRuntime)]
        assert alive == []
        leftover = [t for t in asyncio.all_tasks() if not t.done()]
        assert len(leftover) <= tasks_before, leftover
        assert threading.active_count() <= threads_before  # decoder and player threads ended

    await until_passes(nothing_left)  # the last tasks of the teardown end


async def test_the_active_speaker_comes_from_the_audio_level_extension(
    node: SfuNode, vp8_file: Path
) -> None:
    alice = await NodeBot(node, "room", "Alice").join()
    bob = await NodeBot(node, "room", "Bob").join()
    alice_id = alice.got("welcome")[0].fields["you"]
    # A decoded player: aiortc encodes this tone and sets the RFC 6464 level on each packet,
    # as browsers do (pre-encoded packets carry no level).
    voice = MediaPlayer(str(vp8_file))
    await alice.publish([(voice.audio, "microphone")])
    spoke = await bob.wait_for(lambda: bob.got("active_speaker"))
    assert spoke[0].fields == {"participant": alice_id}
    await alice.leave()
    await bob.leave()


async def test_a_newcomers_answer_and_media_do_not_wait_for_the_room_lock(
    node: SfuNode, vp8_file: Path
) -> None:
    # While the room is busy (its lock held, as when it renegotiates the others), a newcomer's
    # subscribe answer is still applied and its media starts.
    alice = await camera_publisher(node, vp8_file)
    runtime = node.rooms["room"]
    bob = await NodeBot(node, "room", "Bob").join()
    assert isinstance(bob.member, Member) and bob.member.subscriber is not None
    subscriber = bob.member.subscriber
    async with runtime.lock:
        await bob.wait_for(lambda: any(len(f) >= 5 for f in bob.frames.values()))
        assert not subscriber.awaiting_answer
    await alice.leave()
    await bob.leave()


async def test_a_late_subscriber_sees_video_at_once_though_keyframes_are_rare(
    node: SfuNode, tmp_path: Path
) -> None:
    # One keyframe every 2 s, and a publisher that cannot make one on request (pre-encoded):
    # the newcomer starts from the frames since the last keyframe, not at the next one.
    rare = write_test_video(tmp_path / "rare.webm", seconds=8, gop=60)
    pictures = decoded_pictures(rare)
    alice = await camera_publisher(node, rare)
    carol = await NodeBot(node, "room", "Carol").join()  # there from the start
    await carol.wait_for(lambda: any(len(carol.pictures(m)) >= 20 for m in carol.frames))
    (carol_mid,) = [m for m in carol.frames if carol.pictures(m)]
    bob = await NodeBot(node, "room", "Bob").join()  # mid-GOP
    # The newest picture the meeting had shown when Bob came in.
    shown = pictures.start_of(carol.pictures(carol_mid)) + len(carol.pictures(carol_mid)) - 1
    mid = await bob.wait_for(lambda: next((m for m in bob.frames if bob.pictures(m)), None))
    await bob.wait_for(lambda: len(bob.pictures(mid)) >= 30)
    start = pictures.start_of(bob.pictures(mid))
    assert start in pictures.keyframes, "it starts on a keyframe"
    assert start <= shown, "one already sent when Bob came in: he did not wait for the next"
    await alice.leave()
    await carol.leave()
    await bob.leave()


async def test_h264_is_forwarded_unchanged_when_the_publisher_prefers_it(
    node: SfuNode, tmp_path: Path
) -> None:
    clip = write_test_h264(tmp_path / "pattern.ts")
    pictures = decoded_pictures(clip, format="mpegts")
    alice = await NodeBot(node, "room", "Alice").join()
    bob = await NodeBot(node, "room", "Bob").join()
    player = MediaPlayer(str(clip), format="mpegts", decode=False)
    await alice.publish([(player.video, "camera")], video_codec="video/H264")
    await bob.wait_for(lambda: any(len(bob.pictures(m)) >= 30 for m in bob.frames))
    (mid,) = [m for m in bob.frames if bob.pictures(m)]
    assert codecs(bob.sub, mid)[0] == "video/H264"
    assert pictures.start_of(bob.pictures(mid)) in pictures.keyframes
    await alice.leave()
    await bob.leave()


async def test_a_subscriber_that_never_answers_is_closed_and_the_room_goes_on(
    node: SfuNode, vp8_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sfu.room_runtime.ANSWER_TIMEOUT", 0.5)
    alice = await NodeBot(node, "room", "Alice").join()
    # A broken client: it gets offers and never answers.
    mute = await NodeBot(node, "room", "Silent", answers=False).join()
    (player,) = players(vp8_file)
    await alice.publish([(player.video, "camera")])
    await mute.wait_for(lambda: mute.closed, timeout=5)
    assert mute.closed == (1008, "no answer to the subscribe offer")
    left = await alice.wait_for(lambda: alice.got("left"))
    assert left[0].fields["participant"] == mute.member.id  # type: ignore[union-attr]
    await mute.leave()
    await alice.leave()
