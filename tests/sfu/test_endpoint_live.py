"""`/visio/{room}` on a real `atelier serve` process: token bots meet and see the pictures sent,
refusals close cleanly, a flooding participant is cut off alone, trickled candidates are used.

The server gathers ICE candidates on 127.0.0.1 only and has no STUN/TURN server (its
defaults are empty), so no packet leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import websockets
from aioice import stun
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaPlayer

from sfu.endpoint import RATE_BURST
from sfu.ice import host_addresses
from sfu.signaling import Candidate, Chat, Publish, ServerMessage, TrackSource
from tests.support.servers import AtelierServer
from tests.support.sfu_media import decoded_pictures, write_test_video
from tests.support.sfu_peers import LOOPBACK, WsBot, loopback_pc
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


async def test_a_participant_sending_faster_than_allowed_is_closed_and_the_others_stay(
    server: AtelierServer,
) -> None:
    token = server.token("visio-", "rw")
    calm = await WsBot(visio_url(server, "meet-flood", token, "calm"), "calm").join()
    await calm.wait_for(lambda: calm.got("welcome"))
    async with websockets.connect(visio_url(server, "meet-flood", token, "flood")) as flood:
        you = json.loads(await flood.recv())["you"]
        # A burst as large as the limit is let through (a browser trickling its candidates
        # and its answers at once must not be cut off)...
        for i in range(int(RATE_BURST)):
            await flood.send(json.dumps({"type": "hand", "raised": i % 2 == 0}))
        hands = await calm.wait_for(
            lambda: [m for m in calm.got("hand") if m.fields["participant"] == you][199:]
        )
        assert hands
        # ...then, going on faster than 50 a second, it is closed with the reason.
        try:
            for _ in range(10_000):  # however slow the server, more than it refills
                await flood.send(json.dumps({"type": "hand", "raised": True}))
        except websockets.ConnectionClosed:
            pass
        try:
            async with asyncio.timeout(10):
                while True:
                    await flood.recv()
        except websockets.ConnectionClosed:
            pass
        assert (flood.close_code, flood.close_reason) == (1008, "too many messages: slow down")
    # Everyone else stays, and is told the flooder left.
    await calm.wait_for(lambda: [m for m in calm.got("left") if m.fields["participant"] == you])
    assert calm.send is not None
    await calm.send(Chat("toujours là"))
    await calm.wait_for(lambda: [m for m in calm.got("chat") if m.fields["text"] == "toujours là"])
    assert calm.closed is None
    await calm.leave()


class StunRequests(asyncio.DatagramProtocol):
    """A UDP port of the participant's: the STUN requests that reach it."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[stun.Message, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.received.put_nowait((stun.parse_message(data), addr))
        except ValueError:
            pass


async def receive_until(ws: Any, kind: str) -> ServerMessage:
    while (message := ServerMessage.parse(await ws.recv())).type != kind:
        pass
    return message


def ice_ufrag(sdp: str) -> str:
    found = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.M)
    assert found is not None
    return found.group(1)


async def test_a_trickled_candidate_is_where_the_meeting_server_looks_for_the_participant(
    server: AtelierServer,
) -> None:
    token = server.token("visio-", "rw")
    loop = asyncio.get_running_loop()
    port, listener = await loop.create_datagram_endpoint(StunRequests, ("127.0.0.1", 0))
    address = port.get_extra_info("sockname")
    pc: RTCPeerConnection = loopback_pc()
    try:
        async with websockets.connect(visio_url(server, "meet-trickle", token, "ada")) as ws:
            await receive_until(ws, "welcome")
            pc.addTransceiver("audio", direction="sendonly")
            with host_addresses(LOOPBACK):
                await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription.sdp
            # As a browser that trickles: the offer names no candidate (and this participant
            # never applies the answer, so it sends no check the server could learn from)...
            bare = "".join(
                line
                for line in offer.splitlines(keepends=True)
                if not line.startswith(("a=candidate:", "a=end-of-candidates"))
            )
            await ws.send(Publish(bare, (TrackSource("0", "microphone"),)).to_json())
            answer = await receive_until(ws, "publish_answer")
            # ...and gives its address afterwards, over the meeting socket.
            line = f"candidate:1 1 udp 2130706431 {address[0]} {address[1]} typ host"
            await ws.send(Candidate("publish", line, "0", 0).to_json())
            # The server's publish connection sends its connectivity checks there.
            async with asyncio.timeout(10):
                request, origin = await listener.received.get()
            assert request.message_method == stun.Method.BINDING
            assert request.message_class == stun.Class.REQUEST
            expected = f"{ice_ufrag(offer)}:{ice_ufrag(str(answer.fields['sdp']))}"
            assert request.attributes["USERNAME"] == expected
            assert origin[0] == "127.0.0.1"
    finally:
        port.close()
        await pc.close()


async def test_a_client_chooses_its_mode_in_the_meeting_address(server: AtelierServer) -> None:
    token = server.token("visio-", "rw")
    url = visio_url(server, "meet-modes", token, "recorder")
    recorder = await WsBot(url + "&mode=receive-only", "recorder").join()
    welcome = await recorder.wait_for(lambda: recorder.got("welcome"))
    assert welcome[0].fields["mode"] == "receive-only"
    offer = await recorder.pub.createOffer()  # anything: publishing is refused before reading
    await recorder.send(Publish(offer.sdp, (TrackSource("0", "camera"),)))
    await recorder.wait_for(lambda: recorder.closed)
    assert recorder.closed == (1008, "a receive-only participant publishes nothing")
    await recorder.leave()
    code, reason = await close_of(url + "&mode=both-ways")
    assert code == 1008 and reason.startswith("'mode' must be one of both, publish-only")
