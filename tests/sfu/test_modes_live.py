"""Participant modes with real aiortc peers on loopback (docs/visio.md, "Participant modes"):
a publish-only participant (a camera, a bot) is sent no subscribe offer and so is never
closed for not answering one; a receive-only one (a recorder) gets everyone's media and may
not publish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc.contrib.media import MediaPlayer

from sfu.config import IceConfig, SfuConfig
from sfu.errors import SignalingError
from sfu.node import SfuNode
from tests.support.sfu_media import decoded_pictures, write_test_video
from tests.support.sfu_peers import NodeBot

LOOPBACK_ICE = IceConfig(host_addresses=("127.0.0.1",), ice_servers=())


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("media") / "clip.webm", seconds=6)


@pytest.fixture
async def node() -> AsyncIterator[SfuNode]:
    sfu = SfuNode(SfuConfig(ice=LOOPBACK_ICE, keyframe_interval=0.3))
    yield sfu
    await sfu.close()


async def test_a_publish_only_participant_answers_no_offer_and_stays(
    node: SfuNode, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sfu.room_runtime.ANSWER_TIMEOUT", 0.5)
    pictures = decoded_pictures(clip)
    # A camera that never answers an offer, and Bob who publishes too and receives.
    camera = await NodeBot(node, "room", "Caméra", answers=False, mode="publish-only").join()
    bob = await NodeBot(node, "room", "Bob").join()
    await camera.publish([(MediaPlayer(str(clip), decode=False).video, "camera")])
    await bob.publish([(MediaPlayer(str(clip), decode=False).video, "camera")])
    await bob.wait_for(lambda: any(len(bob.pictures(m)) >= 10 for m in bob.frames))
    (mid,) = [m for m in bob.frames if bob.pictures(m)]
    assert pictures.start_of(bob.pictures(mid)) in pictures.keyframes
    # A broken client in the default mode, which never answers either, is closed for it;
    # the camera, there longer, is still in, and was never offered Bob's video.
    silent = await NodeBot(node, "room", "Silent", answers=False).join()
    await silent.wait_for(lambda: silent.closed, timeout=10)
    assert silent.closed == (1008, "no answer to the subscribe offer")
    assert camera.closed is None and camera.got("subscribe") == []
    welcome = camera.got("welcome")[0]
    assert welcome.fields["mode"] == "publish-only"
    await silent.leave()
    await camera.leave()
    await bob.leave()


async def test_a_receive_only_participant_gets_the_media_and_may_not_publish(
    node: SfuNode, clip: Path
) -> None:
    pictures = decoded_pictures(clip)
    alice = await NodeBot(node, "room", "Alice").join()
    recorder = await NodeBot(node, "room", "Enregistreur", mode="receive-only").join()
    player = MediaPlayer(str(clip), decode=False)
    await alice.publish([(player.video, "camera")])
    await recorder.wait_for(lambda: any(len(recorder.pictures(m)) >= 10 for m in recorder.frames))
    (mid,) = [m for m in recorder.frames if recorder.pictures(m)]
    assert pictures.start_of(recorder.pictures(mid)) in pictures.keyframes
    joined = alice.got("joined")[0].fields["participant"]
    assert joined["mode"] == "receive-only"
    # Publishing anyway is refused (the meeting socket closes with 1008 and this reason).
    with pytest.raises(SignalingError, match="a receive-only participant publishes nothing"):
        await recorder.publish([(MediaPlayer(str(clip), decode=False).video, "camera")])
    await recorder.leave()
    await alice.leave()
