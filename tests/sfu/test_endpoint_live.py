"""`/visio/{room}` on a real `atelier serve` process: token bots meet and see the pictures sent,
refusals close cleanly.

The server gathers ICE candidates on 127.0.0.1 only and has no STUN/TURN server (its
defaults are empty), so no packet leaves the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiortc.contrib.media import MediaPlayer

from tests.support.servers import AtelierServer
from tests.support.sfu_media import decoded_pictures, write_test_video
from tests.support.sfu_peers import WsBot
from tests.support.visio import close_of, visio_url


async def test_token_bots_meet_and_receive_the_frames_sent(
    server: AtelierServer, tmp_path: Path
) -> None:
    token = server.token("visio-", "rw")
    video = write_test_video(tmp_path / "pattern.webm", seconds=4)
    alice = await WsBot(visio_url(server, "meet-bench", token, "alice"), "alice").join()
    bob = await WsBot(visio_url(server, "meet-bench", token, "bob"), "bob").join()
    welcome = await bob.wait_for(lambda: bob.got("welcome"))
    assert welcome[0].fields["role"] == "host"
    assert [p["name"] for p in welcome[0].fields["participants"]] == ["alice"]
    assert welcome[0].fields["ice_servers"] == []
    player = MediaPlayer(str(video), decode=False)
    await alice.publish([(player.video, "camera")])
    await bob.wait_for(lambda: any(len(bob.pictures(m)) >= 30 for m in bob.frames))
    (mid,) = [m for m in bob.frames if bob.pictures(m)]
    pictures = decoded_pictures(video)
    assert pictures.start_of(bob.pictures(mid)) in pictures.keyframes
    await bob.leave()
    left = await alice.wait_for(lambda: alice.got("left"))
    assert left[0].fields["participant"] == welcome[0].fields["you"]
    await alice.leave()


async def test_connections_without_access_are_closed_with_the_reason(
    server: AtelierServer,
) -> None:
    assert (await close_of(visio_url(server, "meet-room")))[0] == 4401
    code, reason = await close_of(visio_url(server, "meet-room", server.token("visio-other")))
    assert (code, reason) == (4403, "this token does not grant that meeting")
    assert (await close_of(visio_url(server, "space-1", "not-a-token")))[0] == 4401
    assert (await close_of(visio_url(server, "Bad_Room", server.token("visio-"))))[0] == 1008


async def test_a_malformed_message_closes_only_that_connection(server: AtelierServer) -> None:
    token = server.token("visio-", "rw")
    url = visio_url(server, "meet-room", token)
    assert await close_of(url, send="{not json") == (1008, "message is not JSON")
    bad = json.dumps({"type": "chat", "text": "hi", "extra": 1})
    assert await close_of(url, send=bad) == (1008, "unknown field 'extra'")
    member = json.dumps({"type": "moderate", "action": "end"})
    reader = visio_url(server, "meet-room", server.token("visio-", "ro"))
    assert await close_of(reader, send=member) == (1008, "only hosts may do that")
    assert await close_of(url, send="x" * 70_000) == (1009, "message larger than 65536 bytes")
    garbage = json.dumps({"type": "publish", "sdp": "v=0\r\nm=video", "tracks": []})
    code, reason = await close_of(url, send=garbage)
    assert code == 1008 and reason.startswith("offer refused")
    # The server is still up and meets the next participant.
    bot = await WsBot(url, "after").join()
    await bot.wait_for(lambda: bot.got("welcome"))
    await bot.leave()


async def test_stopping_the_server_closes_meetings_cleanly(
    server: AtelierServer, tmp_path: Path
) -> None:
    token = server.token("visio-", "rw")
    video = write_test_video(tmp_path / "pattern.webm", seconds=4)
    alice = await WsBot(visio_url(server, "meet-stop", token, "alice"), "alice").join()
    bob = await WsBot(visio_url(server, "meet-stop", token, "bob"), "bob").join()
    player = MediaPlayer(str(video), decode=False)
    await alice.publish([(player.video, "camera")])
    await bob.wait_for(lambda: any(len(f) >= 5 for f in bob.frames.values()))
    server.stop()  # SIGTERM: uvicorn shuts the app down, then exits by the signal
    assert "Application shutdown complete" in server.log()
    for bot in (alice, bob):
        await bot.wait_for(lambda bot=bot: bot.closed)
        # uvicorn closes sockets with 1012 (service restart) before the app's shutdown runs.
        assert bot.closed is not None and bot.closed[0] in (1001, 1012)
        await bot.leave()
    assert "Traceback" not in server.log()
