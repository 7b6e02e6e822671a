"""Two `atelier serve` workers with Redis: participants whose signaling lands on different
workers are in the same meeting, and media flows from the room's owner (loopback only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiortc.contrib.media import MediaPlayer

from sfu.signaling import Chat
from tests.support.servers import AtelierServer
from tests.support.sfu_media import decoded_pictures, write_test_video
from tests.support.sfu_peers import WsBot
from tests.support.visio import LOOPBACK_ENV, visio_url


async def test_participants_on_two_workers_meet_in_one_room(
    atelier: Callable[..., AtelierServer], redis_url: str, tmp_path: Path, unique: str
) -> None:
    shared = tmp_path / "shared"
    one = atelier(shared, REDIS_URL=redis_url, **LOOPBACK_ENV)
    two = atelier(shared, REDIS_URL=redis_url, **LOOPBACK_ENV)
    token = one.token("visio-", "rw")
    room = f"meet-{unique}"
    video = write_test_video(tmp_path / "pattern.webm", seconds=4)

    alice = await WsBot(visio_url(one, room, token, "alice"), "alice").join()
    await alice.wait_for(lambda: alice.got("welcome"))
    bob = await WsBot(visio_url(two, room, token, "bob"), "bob").join()
    welcome = (await bob.wait_for(lambda: bob.got("welcome")))[0].fields
    assert [p["name"] for p in welcome["participants"]] == ["alice"]
    await alice.wait_for(lambda: alice.got("joined"))

    # Bob (relayed through worker two) publishes; alice sees the pictures as sent.
    player = MediaPlayer(str(video), decode=False)
    await bob.publish([(player.video, "camera")])
    await alice.wait_for(lambda: any(len(alice.pictures(m)) >= 20 for m in alice.frames))
    (mid,) = [m for m in alice.frames if alice.pictures(m)]
    pictures = decoded_pictures(video)
    assert pictures.start_of(alice.pictures(mid)) in pictures.keyframes

    # Chat crosses workers too, and a departure on one is seen on the other.
    assert bob.send is not None
    await bob.send(Chat("depuis l'autre worker"))
    chat = await alice.wait_for(lambda: alice.got("chat"))
    assert chat[0].fields["text"] == "depuis l'autre worker"
    await bob.leave()
    await alice.wait_for(lambda: alice.got("left"))
    await alice.leave()
