"""The SFU ignores the loopback ICE candidates of a participant connected from elsewhere, in
its offer and trickled, and takes them from one connected from loopback (tests, bots).

The real app, its `/visio/{room}` endpoint and SFU, and a real aiortc peer's offer. The
WebSocket is driven in memory with the ASGI scope's `client` set, as uvicorn sets it for a
connection from another machine: this machine may only send traffic to loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from starlette.applications import Starlette

from sfu.ice import host_addresses
from sfu.node import SfuNode
from sfu.room_runtime import Member
from sfu.signaling import Candidate, Chat, ClientMessage, Publish, ServerMessage, TrackSource
from tests.support.web_app import web_settings
from web.app import create_app
from web.auth.tokens import mint_document_token
from web.database import database_url, migrate

ROOM = "meet-candidates"
REMOTE = "203.0.113.9"  # a documentation address: a participant on another machine


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    data = tmp_path / "data"
    data.mkdir()
    await asyncio.to_thread(migrate, database_url(data.resolve(), None))
    settings = web_settings(data, visio_host_addresses="127.0.0.1", visio_ice_servers="")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


class MemorySocket:
    """A WebSocket client of an ASGI app, in memory, from the client address it is given."""

    def __init__(self, app: Starlette, path: str, query: str, client: str) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"atelier.test")],
            "client": (client, 40000),
            "server": ("127.0.0.1", 8000),
            "subprotocols": [],
        }
        self.to_app.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(app(scope, self.to_app.get, self._from_app))

    async def _from_app(self, event: dict[str, Any]) -> None:
        await self.from_app.put(event)

    async def receive(self) -> ServerMessage:
        while True:
            event = await self.from_app.get()
            assert event["type"] != "websocket.close", event
            if event["type"] == "websocket.send":
                return ServerMessage.parse(event["text"])

    async def receive_until(self, kind: str) -> ServerMessage:
        while (message := await self.receive()).type != kind:
            assert message.type != "error", message
        return message

    def send(self, message: ClientMessage) -> None:
        self.to_app.put_nowait({"type": "websocket.receive", "text": message.to_json()})

    async def close(self) -> None:
        self.to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await self.task


def remote_candidates(member: Member) -> list[str]:
    """The addresses the SFU's publish connection of `member` would send ICE checks to."""
    assert member.publisher is not None
    transport = member.publisher.pc.getTransceivers()[0].receiver.transport.transport
    return sorted(c.ip for c in transport.getRemoteCandidates())


async def publishing_member(
    app: Starlette, client: str, pc: RTCPeerConnection
) -> tuple[MemorySocket, Member]:
    """A participant connected from `client` who offered an audio track, with candidates
    gathered on loopback (its answer is never applied: it sends no ICE check itself)."""
    token = mint_document_token(
        app.state.secret, prefix="visio-", writable=True, ttl=300, now=time.time()
    )
    socket = MemorySocket(app, f"/visio/{ROOM}", f"token={token}", client)
    assert (await socket.from_app.get())["type"] == "websocket.accept"
    welcome = await socket.receive_until("welcome")
    pc.addTransceiver("audio", direction="sendonly")
    with host_addresses(("127.0.0.1",)):
        await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    assert "a=candidate:" in offer and "127.0.0.1" in offer
    # As a browser that trickles: more candidates may follow the offer.
    offer = offer.replace("a=end-of-candidates\r\n", "")
    socket.send(Publish(offer, (TrackSource("0", "microphone"),)))
    await socket.receive_until("publish_answer")
    node: SfuNode = app.state.sfu
    member = node.rooms[ROOM].members[str(welcome.fields["you"])]
    return socket, member


def trickle(socket: MemorySocket, address: str) -> None:
    line = f"candidate:9 1 udp 2122260223 {address} 50000 typ host generation 0"
    socket.send(Candidate("publish", line, "0", 0))


async def handled(socket: MemorySocket) -> None:
    """Until every message sent so far is handled: a chat message behind them comes back
    (a connection's messages are handled in order)."""
    socket.send(Chat("ok"))
    await socket.receive_until("chat")


@pytest.fixture
async def peers() -> AsyncIterator[Callable[[], RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []

    def make() -> RTCPeerConnection:
        made.append(RTCPeerConnection(RTCConfiguration(iceServers=[])))
        return made[-1]

    yield make
    for pc in made:
        await pc.close()


async def test_a_remote_participants_loopback_candidates_are_ignored_without_closing_it(
    app: Starlette, peers: Callable[[], RTCPeerConnection]
) -> None:
    socket, member = await publishing_member(app, REMOTE, peers())
    assert remote_candidates(member) == []  # its offer's 127.0.0.1 candidates are gone
    for address in ("127.0.0.1", "169.254.3.4", "::1", "fe80::1", "abcd.local"):
        trickle(socket, address)
    await handled(socket)
    assert remote_candidates(member) == []
    assert not member.gone  # no error, no close: the connection goes on
    await socket.close()


async def test_a_participant_connected_from_loopback_gives_loopback_candidates(
    app: Starlette, peers: Callable[[], RTCPeerConnection]
) -> None:
    socket, member = await publishing_member(app, "127.0.0.1", peers())
    assert remote_candidates(member) == ["127.0.0.1"]
    trickle(socket, "127.0.0.2")
    await handled(socket)
    assert remote_candidates(member) == ["127.0.0.1", "127.0.0.2"]
    await socket.close()
