"""ATELIER_VISIO_UDP_PORTS: the SFU's ICE host sockets bound within a port range, real aiortc
peers on loopback; a participant finding no free port is closed (1013), the others go on."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaPlayer

import sfu.ice
from sfu.config import IceConfig, SfuConfig
from sfu.ice import UdpPortsExhausted, bind_in_range, host_addresses
from sfu.node import SfuNode
from sfu.peers import PublisherPeer
from sfu.room_runtime import CLOSE_SERVER_FULL, NO_MEDIA_PORT
from tests.support.ports import free_range
from tests.support.sfu_media import write_test_video
from tests.support.sfu_peers import LOOPBACK, NodeBot, loopback_pc
from tests.support.waiting import eventually
from web.config import Settings
from web.visio.sfu_setup import sfu_config

Address = tuple[str, int]


@pytest.fixture(scope="module")
def vp8_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~12 s of 320×240 VP8: longer than any test here runs."""
    return write_test_video(tmp_path_factory.mktemp("media") / "pattern.webm", seconds=12)


def in_range(ports: tuple[int, int]) -> Callable[[Address], bool]:
    return lambda address: ports[0] <= address[1] <= ports[1]


def udp_addresses() -> set[Address]:
    """The (ip, port) of every UDP socket of this process (SFU and bots alike)."""
    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections(kind="udp")}


def ice_addresses(pc: RTCPeerConnection) -> set[Address]:
    """Where a peer connection's ICE sockets are bound."""
    found = set()
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        for protocol in connection._protocols:
            host, port = protocol.transport.get_extra_info("sockname")[:2]
            found.add((host, port))
    return found


def node_with(ports: tuple[int, int]) -> SfuNode:
    ice = IceConfig(host_addresses=LOOPBACK, ice_servers=(), udp_ports=ports)
    return SfuNode(SfuConfig(ice=ice, keyframe_interval=0.3))


@pytest.fixture
async def nodes() -> AsyncIterator[list[SfuNode]]:
    made: list[SfuNode] = []
    yield made
    for node in made:
        await node.close()


def video_frames(bot: NodeBot) -> int:
    return sum(len(frames) for frames in bot.frames.values())


def test_the_setting_reaches_the_sfu_peers() -> None:
    settings = Settings.from_env({"ATELIER_VISIO_UDP_PORTS": "40000-40999"})
    assert sfu_config(settings).peer_ice().udp_ports == (40000, 40999)
    assert sfu_config(Settings.from_env({})).peer_ice().udp_ports is None


def test_ports_are_taken_round_robin_skipping_those_in_use() -> None:
    low, high = free_range(3)
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", low + 1))
    bound = [bind_in_range("127.0.0.1", (low, high)) for _ in range(2)]
    try:
        assert sorted(s.getsockname()[1] for s in bound) == [low, high]
        with pytest.raises(UdpPortsExhausted, match=f"no free UDP port in {low}-{high} on 127"):
            bind_in_range("127.0.0.1", (low, high))
        bound.pop().close()
        bound.append(bind_in_range("127.0.0.1", (low, high)))  # a port freed is free again
    finally:
        held.close()
        for sock in bound:
            sock.close()


async def test_with_a_range_every_sfu_socket_is_bound_in_it(
    nodes: list[SfuNode], vp8_file: Path
) -> None:
    ports = free_range(10)
    node = node_with(ports)
    nodes.append(node)
    before = udp_addresses()
    alice = await NodeBot(node, "room", "Alice").join()
    bob = await NodeBot(node, "room", "Bob").join()
    player = MediaPlayer(str(vp8_file), decode=False)
    await alice.publish([(player.video, "camera")])
    await bob.wait_for(lambda: video_frames(bob) >= 30)

    assert alice.member is not None and alice.member.publisher is not None
    assert bob.member is not None and bob.member.subscriber is not None
    sfu = ice_addresses(alice.member.publisher.pc) | ice_addresses(bob.member.subscriber.pc)
    assert len(sfu) == 2 and all(map(in_range(ports), sfu)), sfu
    # Every UDP socket opened since the start that is not a bot's is one of those two.
    bots = set().union(*(ice_addresses(pc) for pc in (alice.pub, alice.sub, bob.pub, bob.sub)))
    assert bots and not any(map(in_range(ports), bots)), bots
    assert udp_addresses() - before - bots == sfu
    await alice.leave()
    await bob.leave()


async def test_a_participant_finding_no_free_port_is_refused_and_the_others_go_on(
    nodes: list[SfuNode], vp8_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ports = free_range(2)  # Alice's publish connection and Bob's subscribe connection
    low, high = ports
    node = node_with(ports)
    nodes.append(node)
    alice = await NodeBot(node, "a", "Alice").join()
    bob = await NodeBot(node, "a", "Bob").join()
    player = MediaPlayer(str(vp8_file), decode=False)
    await alice.publish([(player.video, "camera")])
    await bob.wait_for(lambda: video_frames(bob) >= 10)
    room = node.rooms["a"]

    with caplog.at_level(logging.ERROR, logger="atelier.sfu"):
        # Carol's subscribe connection (offered as she joins) finds no port.
        carol = await NodeBot(node, "a", "Carol").join()
        assert await carol.wait_for(lambda: carol.closed) == (CLOSE_SERVER_FULL, NO_MEDIA_PORT)
        # Dave, alone in another meeting, finds none for his publish connection.
        dave = await NodeBot(node, "b", "Dave").join()
        dave_player = MediaPlayer(str(vp8_file), decode=False)
        await dave.publish([(dave_player.video, "camera")])
        assert await dave.wait_for(lambda: dave.closed) == (CLOSE_SERVER_FULL, NO_MEDIA_PORT)
        assert dave.got("publish_answer") == []
    refusals = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("atelier")
    ]
    assert len(refusals) == 2, refusals
    assert all(f"no free UDP port in {low}-{high} on 127.0.0.1" in m for m in refusals)

    assert carol.member is not None and dave.member is not None
    carol_id, dave_id = carol.member.id, dave.member.id
    await bob.wait_for(
        lambda: carol_id not in room.members and dave_id not in node.rooms["b"].members
    )
    # Alice's media still reaches Bob, and the SFU holds just its two ports.
    received = video_frames(bob)
    await bob.wait_for(lambda: video_frames(bob) >= received + 30)
    assert bob.closed is None and alice.closed is None
    assert alice.member is not None and alice.member.publisher is not None
    assert bob.member is not None and bob.member.subscriber is not None
    held = ice_addresses(alice.member.publisher.pc) | ice_addresses(bob.member.subscriber.pc)
    assert len(held) == 2
    assert {a for a in udp_addresses() if in_range(ports)(a)} == held
    await carol.leave()
    await dave.leave()

    # A port freed (Bob leaves) serves the next participant.
    await bob.leave()
    erin = await NodeBot(node, "a", "Erin").join()
    await erin.wait_for(lambda: video_frames(erin) >= 10)
    assert erin.closed is None
    await erin.leave()
    await alice.leave()


async def test_short_of_ports_on_one_address_closes_the_sockets_opened_on_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    low, high = free_range(1)
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):  # in use elsewhere: as full
        held.bind(("127.0.0.2", low))  # the range is full on 127.0.0.2, free on 127.0.0.1
    bound: list[Address] = []

    def bind(address: str, ports: tuple[int, int]) -> socket.socket:
        sock = bind_in_range(address, ports)
        bound.append(sock.getsockname())
        return sock

    monkeypatch.setattr(sfu.ice, "bind_in_range", bind)
    browser = loopback_pc()
    browser.addTransceiver("video", direction="sendonly")
    with host_addresses(LOOPBACK):
        await browser.setLocalDescription(await browser.createOffer())
    ice = IceConfig(host_addresses=("127.0.0.1", "127.0.0.2"), udp_ports=(low, high))
    peer = PublisherPeer(ice, on_frame=lambda *_: None, on_audio_level=lambda *_: None)
    try:
        refused = f"no free UDP port in {low}-{high} on 127.0.0.2"
        with pytest.raises(UdpPortsExhausted, match=refused):
            await peer.answer(browser.localDescription.sdp)
        assert bound == [("127.0.0.1", low)]
        # That socket, bound before the failure, is closed (aioice never saw it).
        await eventually(lambda: ("127.0.0.1", low) not in udp_addresses(), what="the close")
    finally:
        held.close()
        await peer.close()
        await browser.close()
