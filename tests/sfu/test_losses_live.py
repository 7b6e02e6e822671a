"""Losses on the way to a subscriber, with real aiortc peers on loopback: what its receiver
misses is sent again when it asks (NACK), from C and from Python, so it decodes every frame;
and a newcomer is started from the latest keyframe at a bounded pace, not in one burst."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc.contrib.media import MediaPlayer

from sfu import native
from sfu.config import IceConfig, SfuConfig
from sfu.node import SfuNode
from sfu.rtp import CATCH_UP_MAX_GAP, CATCH_UP_SPEED
from tests.support.sfu_media import decoded_pictures, write_test_video
from tests.support.sfu_peers import LossyReceive, NodeBot

LOOPBACK_ICE = IceConfig(host_addresses=("127.0.0.1",), ice_servers=())


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 640×480 VP8 (a keyframe every second), several packets a frame."""
    return write_test_video(
        tmp_path_factory.mktemp("media") / "clip.webm",
        seconds=4,
        size="640x480",
        gop=30,
        bitrate=1_000_000,
    )


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s of 320×240 VP8 (a keyframe every second): a room fills before a newcomer joins."""
    return write_test_video(
        tmp_path_factory.mktemp("media") / "long.webm", seconds=12, gop=30, bitrate=600_000
    )


@pytest.fixture(params=["c", "python"])
def send_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each send path: the C sender (skipped, saying why, when it is not built) and Python."""
    if request.param == "c" and native.LIB is None:
        pytest.skip(f"the C sender is not in use: {native.WHY}")
    if request.param == "python":
        monkeypatch.setattr(native, "LIB", None)
    return str(request.param)


@pytest.fixture
async def node(send_path: str) -> AsyncIterator[SfuNode]:
    sfu = SfuNode(SfuConfig(ice=LOOPBACK_ICE, keyframe_interval=0.3))
    yield sfu
    await sfu.close()


@pytest.mark.parametrize("rtx", [True, False], ids=["rtx", "without-rtx"])
async def test_a_subscriber_losing_packets_still_decodes_every_frame(
    node: SfuNode, clip: Path, rtx: bool
) -> None:
    pictures = decoded_pictures(clip)
    bob = NodeBot(node, "room", "Bob")
    bob.loss = LossyReceive(0.05, seed=7)
    bob.rtx = rtx
    await bob.join()
    alice = await NodeBot(node, "room", "Alice").join()
    player = MediaPlayer(str(clip), decode=False)
    await alice.publish([(player.video, "camera")])
    mid = await bob.wait_for(lambda: next((m for m in bob.frames if bob.pictures(m)), None))
    # The receiver hands a frame on when the next one begins: all but the file's last.
    last = pictures.digests[-2]
    await bob.wait_for(lambda: last in bob.pictures(mid), timeout=30)
    seen = bob.pictures(mid)
    start = pictures.start_of(seen)  # one for one, nothing missing, repeated or altered
    assert start == 0
    assert seen[-1] == last
    assert bob.loss.dropped >= 10, "packets were lost on the way"
    if rtx:  # each came back as RTX (the others, as they were sent)
        assert bob.loss.retransmissions >= bob.loss.dropped
    else:
        assert bob.loss.retransmissions == 0
    await alice.leave()
    await bob.leave()


async def test_a_newcomer_starts_from_the_latest_keyframe_at_most_twice_real_time(
    node: SfuNode, tmp_path: Path
) -> None:
    # A keyframe every 2 s from a publisher that cannot make one on request (pre-encoded):
    # the newcomer is sent the frames since the latest one, paced, not in one burst.
    rare = write_test_video(tmp_path / "rare.webm", seconds=8, gop=60)
    pictures = decoded_pictures(rare)
    alice = await NodeBot(node, "room", "Alice").join()
    await alice.publish([(MediaPlayer(str(rare), decode=False).video, "camera")])
    carol = await NodeBot(node, "room", "Carol").join()  # there from the start
    await carol.wait_for(lambda: any(len(carol.pictures(m)) >= 20 for m in carol.frames))
    (carol_mid,) = [m for m in carol.frames if carol.pictures(m)]
    shown = pictures.start_of(carol.pictures(carol_mid)) + len(carol.pictures(carol_mid)) - 1
    bob = NodeBot(node, "room", "Bob")
    bob.record_wire = True
    await bob.join()
    mid = await bob.wait_for(lambda: next((m for m in bob.frames if bob.pictures(m)), None))
    await bob.wait_for(lambda: len(bob.pictures(mid)) >= 30)
    start = pictures.start_of(bob.pictures(mid))
    assert start in pictures.keyframes and start <= shown, "from the keyframe already sent"
    # The frames the meeting had when Bob came in, as the SFU stamped them when it sent
    # them (abs-send-time): each at least half its distance in RTP time from the first
    # (a few milliseconds of slack for the clocks read apart).
    caught_up = bob.wire[mid].frames[: shown - start + 1]
    assert len(caught_up) >= 10
    sent_first, wanted = caught_up[0][1], 0.0
    for (before, _), (after, sent_after) in itertools.pairwise(caught_up):
        wanted += min((after - before) % 2**32 / 90000 / CATCH_UP_SPEED, CATCH_UP_MAX_GAP)
        assert (sent_after - sent_first) % 64 >= wanted - 0.005
    await alice.leave()
    await carol.leave()
    await bob.leave()


async def test_a_newcomer_with_a_small_receive_buffer_gets_every_stream_whole(
    node: SfuNode, long_clip: Path
) -> None:
    # A room of 4 cameras (publish-only: on this machine the bots cannot also decode each
    # other's video) sending while a newcomer on a 256 KB socket buffer joins. Each of its 4
    # streams starts, on a keyframe, and every frame is decoded from there: whatever its
    # socket dropped was sent again. (How soon each stream starts, at 4 x 12 and 640x480:
    # bench/sfu_bench.py, docs/benchmarks.md, "Joining".)
    pictures = decoded_pictures(long_clip)
    cameras = []
    for n in range(4):
        camera = await NodeBot(node, "room", f"Caméra {n}", mode="publish-only").join()
        await camera.publish([(MediaPlayer(str(long_clip), decode=False).video, "camera")])
        cameras.append(camera)
    runtime = node.rooms["room"]
    # Each camera's video reached the meeting server, a keyframe and the frames since kept.
    await cameras[0].wait_for(
        lambda: (
            len(runtime.tracks) == 4
            and all(len(runtime.recent.since_keyframe(t)) >= 5 for t in runtime.tracks)
        ),
        timeout=60,
    )
    newcomer = NodeBot(node, "room", "Newcomer", mode="receive-only")
    newcomer.receive_buffer = 256 * 1024
    await newcomer.join()

    def streams(count: int) -> list[str]:
        return [m for m in newcomer.frames if len(newcomer.pictures(m)) >= count]

    await newcomer.wait_for(lambda: len(streams(30)) == 4, timeout=60)
    for mid in streams(30):
        assert pictures.start_of(newcomer.pictures(mid)) in pictures.keyframes
    for bot in (newcomer, *cameras):
        await bot.leave()
