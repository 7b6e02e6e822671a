"""The SFU's receive path (`FastReceive`): SRTP from the socket straight to aiortc's handlers.

Parsing and unprotection are checked against aiortc's and pylibsrtp's own, packet for packet;
the in-order runner with a handler that suspends; and, with a real aiortc publisher on
loopback, that media and RTCP (sender reports) go through it and that closing restores
aioice's sockets and leaves no task."""

from __future__ import annotations

import asyncio
import random
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pylibsrtp
import pytest
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.codecs.vpx import vp8_depayload
from aiortc.contrib.media import MediaPlayer
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
)
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket, wrap_rtx
from pylibsrtp import Policy, Session

from sfu.config import IceConfig
from sfu.frame_assembly import FrameAssembler, FrameTap, no_bandwidth_estimation
from sfu.frames import Codec, EncodedFrame, Packetizer
from sfu.ice import host_addresses
from sfu.peers import PublisherPeer
from sfu.receiving import FastReceive, parse_rtp
from sfu.srtp import fast_unprotect
from tests.support.sfu_media import video_packets, write_test_video
from tests.support.waiting import eventually

LOOPBACK = ("127.0.0.1",)
AUDIO_LEVEL = 3


def extensions_map() -> HeaderExtensionsMap:
    ids = {
        1: "urn:ietf:params:rtp-hdrext:sdes:mid",
        2: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        AUDIO_LEVEL: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        4: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    }
    parameters = RTCRtpReceiveParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for i, u in ids.items()]
    )
    mapping = HeaderExtensionsMap()
    mapping.configure(parameters)
    return mapping


def sample_packets() -> list[bytes]:
    mapping = extensions_map()
    rng = random.Random(7)
    packets = []
    for i in range(200):
        packet = RtpPacket(
            payload_type=rng.choice([96, 97, 111]),
            marker=i % 2,
            sequence_number=rng.randrange(1 << 16),
            timestamp=rng.randrange(1 << 32),
            ssrc=rng.randrange(1 << 32),
            payload=rng.randbytes(rng.randrange(0, 300)),
        )
        packet.csrc = [rng.randrange(1 << 32) for _ in range(i % 3)]
        packet.padding_size = (i % 5) * 3
        extensions = HeaderExtensions()
        if i % 4 != 0:
            extensions.mid = str(i % 7)
        if i % 3 == 0:
            extensions.abs_send_time = rng.randrange(1 << 24)
        if i % 2 == 0:
            extensions.audio_level = (i % 8 == 0, rng.randrange(128))
        if i % 6 == 1:
            extensions.transport_sequence_number = rng.randrange(1 << 16)
        packet.extensions = extensions
        packets.append(packet.serialize(mapping))
    # Two-byte header extensions (profile 0x1000) with padding between elements.
    header = struct.pack("!BBHII", 0x90, 111, 5, 1234, 99)
    elements = bytes([1, 2]) + b"ab" + b"\x00" + bytes([AUDIO_LEVEL, 1, 0x85]) + b"\x00\x00"
    packets.append(header + struct.pack("!HH", 0x1000, 2) + elements + b"opus")
    return packets


def same(ours: RtpPacket, theirs: RtpPacket) -> None:
    for name in (
        "version",
        "marker",
        "payload_type",
        "sequence_number",
        "timestamp",
        "ssrc",
        "csrc",
        "payload",
        "padding_size",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.extensions.audio_level == theirs.extensions.audio_level


def test_rtp_is_parsed_as_aiortc_parses_it_with_the_audio_level() -> None:
    mapping = extensions_map()
    packets = sample_packets()
    levels = 0
    for data in packets:
        theirs = RtpPacket.parse(data, mapping)
        ours = parse_rtp(data, AUDIO_LEVEL)
        same(ours, theirs)
        levels += theirs.extensions.audio_level is not None
    assert levels > 50
    assert parse_rtp(packets[-1], AUDIO_LEVEL).extensions.audio_level == (True, 5)
    # Without a negotiated audio level id, none is read.
    assert parse_rtp(packets[0], None).extensions.audio_level is None


def test_malformed_rtp_is_refused_exactly_where_aiortc_refuses_it() -> None:
    mapping = extensions_map()
    rng = random.Random(11)
    refused = 0
    for data in sample_packets():
        variants = [data[:n] for n in range(0, min(len(data), 40))]
        for _ in range(20):
            broken = bytearray(data)
            broken[rng.randrange(min(len(broken), 24))] = rng.randrange(256)
            variants.append(bytes(broken))
        for variant in variants:
            try:
                theirs = RtpPacket.parse(variant, mapping)
            except (UnicodeDecodeError, struct.error):
                # Elements the SFU does not read: a mid that is not UTF-8 (aiortc drops the
                # packet), an abs-send-time or audio level of the wrong size (aiortc's
                # receiving task dies). The SFU reads only the audio level, one byte.
                continue
            except ValueError:
                with pytest.raises(ValueError):
                    parse_rtp(variant, AUDIO_LEVEL)
                refused += 1
                continue
            same(parse_rtp(variant, AUDIO_LEVEL), theirs)
    assert refused > 1000


def srtp_pair() -> tuple[Session, Session]:
    key = bytes(range(30))
    tx = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)
    rx_aiortc = Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND)
    return Session(tx), Session(rx_aiortc)


def test_the_fast_srtp_unprotection_is_pylibsrtps_byte_for_byte() -> None:
    tx, rx = srtp_pair()
    _, rx_fast = srtp_pair()
    fast = fast_unprotect(rx_fast, rtcp=False)
    fast_rtcp = fast_unprotect(rx_fast, rtcp=True)
    for data in sample_packets()[:50]:
        protected = tx.protect(data)
        assert fast(protected) == rx.unprotect(protected) == data
    rtcp = struct.pack("!BBHI", 0x81, 201, 7, 1) + bytes(range(24))  # an RR
    protected = tx.protect_rtcp(rtcp)
    assert fast_rtcp(protected) == rx.unprotect_rtcp(protected) == rtcp
    tampered = bytearray(tx.protect(sample_packets()[60]))
    tampered[-1] ^= 1
    with pytest.raises(pylibsrtp.Error):
        fast(bytes(tampered))
    with pytest.raises(pylibsrtp.Error):  # pylibsrtp raises ValueError (aiortc would crash)
        fast(bytes(2000))


def fake_transport() -> Any:
    return SimpleNamespace(
        _rtp_router=None,
        _rx_srtp=None,
        _rtp_header_extensions_map=HeaderExtensionsMap(),
    )


async def test_handlers_run_at_once_and_in_order_even_when_one_suspends() -> None:
    fast = FastReceive(fake_transport())
    done: list[int] = []
    gate = asyncio.get_running_loop().create_future()

    async def handler(n: int, wait: asyncio.Future[None] | None = None) -> None:
        if wait is not None:
            await wait
        done.append(n)

    fast._run(handler(1))
    assert done == [1] and fast.task is None  # ran synchronously, no task
    fast._run(handler(2, gate))  # suspends: goes on in a task
    fast._run(handler(3))  # waits behind it
    fast._run(handler(4))
    assert done == [1] and fast.task is not None
    gate.set_result(None)
    await fast.task
    assert done == [1, 2, 3, 4]
    fast._run(handler(5))
    assert done == [1, 2, 3, 4, 5]

    # Closing cancels a suspended handler and drops what waits behind it, without warnings.
    blocked = asyncio.get_running_loop().create_future()
    fast._run(handler(6, blocked))
    fast._run(handler(7))
    task = fast.task
    await fast.aclose()
    assert task is not None and task.done() and blocked.cancelled()
    assert done == [1, 2, 3, 4, 5] and fast.task is None and fast._backlog is None


async def test_stun_and_dtls_still_go_to_aioice() -> None:
    fast = FastReceive(fake_transport())
    seen: list[bytes] = []

    def aioice(data: bytes, addr: Any) -> None:
        seen.append(data)

    stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)
    dtls = b"\x16\xfe\xfd" + bytes(10)
    for data in (stun, dtls, b""):
        fast._datagram_received(aioice, data, ("127.0.0.1", 9))
    assert seen == [stun, dtls, b""]
    fast._datagram_received(aioice, b"\x80" + bytes(30), ("127.0.0.1", 9))
    assert len(seen) == 3  # SRTP is not aioice's (dropped here: no keys yet)


@pytest.fixture(scope="module")
def media_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("media") / "av.webm", seconds=6, audio=True)


async def test_a_publishers_media_and_reports_take_the_fast_path(media_file: Path) -> None:
    frames: list[tuple[str, EncodedFrame]] = []
    levels: list[int] = []
    sfu = PublisherPeer(
        IceConfig(host_addresses=LOOPBACK),
        lambda mid, frame: frames.append((mid, frame)),
        lambda mid, level: levels.append(level),
    )
    publisher = RTCPeerConnection()
    player = MediaPlayer(str(media_file), decode=False)
    try:
        publisher.addTrack(player.audio)
        publisher.addTrack(player.video)
        with host_addresses(LOOPBACK):
            await publisher.setLocalDescription(await publisher.createOffer())
        answer, published = await sfu.answer(publisher.localDescription.sdp)
        await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        assert {p.kind for p in published} == {"audio", "video"}
        assert len(sfu.fast_receive) == 1  # max-bundle: one transport
        fast = sfu.fast_receive[0]
        receivers = [t.receiver for t in sfu.pc.getTransceivers()]

        def reported() -> bool:  # the publisher's sender reports, handled by the receivers
            return all(r._RTCRtpReceiver__lsr for r in receivers)

        await eventually(lambda: len(frames) > 60 and reported(), timeout=15, what="frames, SRs")
        assert {mid for mid, _ in frames} == {p.mid for p in published}
        assert reported()
        assert fast.handled >= len(frames)
        dtls = receivers[0].transport
        # Everything after the handshake came this way; aioice's queue stayed empty.
        assert dtls.transport._connection._queue.qsize() == 0
        protocols = list(fast._protocols)
        assert protocols and all("datagram_received" in vars(p) for p in protocols)
    finally:
        await publisher.close()
        await sfu.close()
        player.video.stop()
        player.audio.stop()
    assert all("datagram_received" not in vars(p) for p in protocols)
    assert fast.task is None and not fast._protocols


# --- the receiver's handler without a coroutine ----------------------------------------------

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
VP8_RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96}
)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
SSRC, RTX_SSRC = 1234, 4321


async def a_receiver(
    sync: bool, kind: str = "video"
) -> tuple[Any, list[EncodedFrame], list[bytes]]:
    """A real `RTCRtpReceiver` on a real (unconnected) DTLS transport, set up as the SFU sets
    up a publisher's, with the RTCP it sends recorded."""
    dtls = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    dtls._rx_srtp = Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
    receiver = RTCRtpReceiver(kind, dtls)
    receiver._track = RemoteStreamTrack(kind=kind)
    frames: list[EncodedFrame] = []
    FrameTap.install(receiver, frames.append)
    no_bandwidth_estimation(receiver)
    peer = PublisherPeer.__new__(PublisherPeer)  # only what `_watch_packets` uses
    peer._ssrc, peer._pli_pending = {}, set()
    peer._on_audio_level = lambda mid, level: None
    peer._watch_packets("0", receiver)
    if not sync:
        del receiver._sfu_handle_rtp  # aiortc's coroutine, as before
    sent: list[bytes] = []

    async def send_rtcp(packet: Any) -> None:
        sent.append(bytes(packet))

    receiver._send_rtcp = send_rtcp
    receiver._set_rtcp_ssrc(5678)
    if kind == "audio":
        codecs, encoding = [OPUS], RTCRtpDecodingParameters(ssrc=SSRC, payloadType=111)
    else:
        codecs = [VP8, VP8_RTX]
        encoding = RTCRtpDecodingParameters(
            ssrc=SSRC, payloadType=96, rtx=RTCRtpRtxParameters(ssrc=RTX_SSRC)
        )
    await receiver.receive(RTCRtpReceiveParameters(codecs=codecs, muxId="0", encodings=[encoding]))
    return receiver, frames, sent


KEY = bytes(range(30))


def vp8_rtp(
    path: Path, frames: int, first_seq: int, jump_after: tuple[int, int]
) -> list[RtpPacket]:
    """The first `frames` VP8 frames of `path` as a publisher's RTP packets (30 fps), sequence
    numbers from `first_seq` (mod 2^16), 700 of them skipped after packet `jump_after` =
    (frame, packet of that frame; -1: its last)."""
    packetizer = Packetizer(Codec("video/VP8", 90000))
    packets: list[RtpPacket] = []
    seq = first_seq
    for i, data in enumerate(video_packets(path)[:frames]):
        payloads = packetizer.pack(data, i * 3000).payloads
        for j, payload in enumerate(payloads):
            last = j == len(payloads) - 1
            packets.append(RtpPacket(96, int(last), seq & 0xFFFF, i * 3000, SSRC, payload))
            seq += 1
            if i == jump_after[0] and (j == jump_after[1] or (jump_after[1] == -1 and last)):
                seq += 700
    return packets


def stream_with_trouble(path: Path) -> list[bytes]:
    """A publisher's VP8 packets with losses, some recovered by RTX, reordering, duplicates
    (dropped by SRTP's replay check), a jump past the jitter buffer, RTX from an unknown SSRC
    and RTX too short to unwrap."""
    # with a jump the jitter buffer cannot hold, after frame 100's first packet; seq wraps
    packets = vp8_rtp(path, frames=150, first_seq=65000, jump_after=(100, 0))  # seq wraps
    rng = random.Random(3)
    out: list[RtpPacket] = []
    lost: list[RtpPacket] = []
    rtx_seq = 100
    for n, packet in enumerate(packets):
        if n % 17 == 5:
            lost.append(packet)
            continue
        out.append(packet)
        if n % 23 == 0:
            out.append(packet)  # duplicate
        if n % 29 == 0 and len(out) > 2:
            out[-1], out[-2] = out[-2], out[-1]  # reordered
        if lost and n % 11 == 0 and rng.random() < 0.7:
            out.append(wrap_rtx(lost.pop(0), 97, rtx_seq, RTX_SSRC))
            rtx_seq += 1
        if n == 40:
            out.append(wrap_rtx(packet, 97, 1, 999))  # RTX from an unknown SSRC
            out.append(RtpPacket(97, 0, 2, 1, RTX_SSRC, b"x"))  # RTX too short
    policy = Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND)
    policy.allow_repeat_tx = True
    tx = Session(policy)
    return [tx.protect(p.serialize()) for p in out]


async def test_the_sync_handler_does_what_aiortcs_coroutine_does(media_file: Path) -> None:
    """Same frames, same NACKs and PLIs, same receiver statistics, for the same packets."""
    datagrams = stream_with_trouble(media_file)
    results = []
    for sync in (False, True):
        receiver, frames, sent = await a_receiver(sync)
        fast = FastReceive(receiver.transport)
        for data in datagrams:
            fast._srtp(data)
        assert fast.task is None  # nothing suspended
        streams = receiver._RTCRtpReceiver__remote_streams
        stats = {
            ssrc: (s.packets_received, s.max_seq, s.cycles, s.base_seq, s.packets_lost)
            for ssrc, s in streams.items()
        }
        results.append(([(f.data, f.timestamp) for f in frames], sent, stats))
        await receiver.stop()
    (frames_aiortc, rtcp_aiortc, stats_aiortc), (frames_sync, rtcp_sync, stats_sync) = results
    assert len(frames_aiortc) > 100
    assert frames_sync == frames_aiortc
    nacks = [p for p in rtcp_aiortc if p[1] == 205]
    plis = [p for p in rtcp_aiortc if p[1] == 206]
    assert nacks and plis  # the stream had losses and a jump
    assert rtcp_sync == rtcp_aiortc
    assert stats_sync == stats_aiortc and set(stats_sync) == {SSRC, RTX_SSRC, 999}


async def test_a_failing_handler_drops_its_packet_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fast = FastReceive(fake_transport())
    done: list[int] = []

    async def handler(n: int) -> None:
        if n % 2:
            raise RuntimeError("broken")
        done.append(n)

    with caplog.at_level("DEBUG", logger="atelier.sfu.receiving"):
        for n in range(6):
            fast._run(handler(n))
    assert done == [0, 2, 4]
    levels = [r.levelname for r in caplog.records if "received packet" in r.getMessage()]
    assert levels == ["WARNING", "DEBUG", "DEBUG"]


async def test_each_opus_packet_is_forwarded_as_it_arrives_and_late_ones_are_dropped() -> None:
    """aiortc's audio jitter buffer holds a packet until four later ones are in (80 ms); the
    SFU's handler hands each Opus packet on at once, in arrival order, without the late
    ones, and keeps the same receiver statistics (for its receiver reports)."""
    # seq 65533.. wraps; 65536+3 arrives after 65536+4 (late: dropped), 65536+5 twice; then
    # the stream restarts 500 numbers back (a new stream, not a late packet: forwarded)
    order = [65533, 65534, 65535, 65536, 65537, 65538, 65540, 65539, 65541, 65541, 65041, 65042]
    packets = [
        RtpPacket(111, 0, n & 0xFFFF, 960 * (n - 65000), SSRC, bytes([n % 251]) * 40) for n in order
    ]
    receiver, frames, _ = await a_receiver(sync=True, kind="audio")
    arrived = []
    for packet in packets:
        receiver._sfu_handle_rtp(packet, 0, lambda coro: pytest.fail("nothing to await"))
        arrived.append(len(frames))
    assert arrived == [1, 2, 3, 4, 5, 6, 7, 7, 8, 8, 9, 10]  # at once, without the late one
    kept = [p for i, p in enumerate(packets) if i not in (7, 9)]
    assert [f.data for f in frames] == [p.payload for p in kept]
    # timestamps as aiortc maps them: from the first one, across the restart (as a wrap)
    first = kept[0].timestamp
    assert [f.timestamp & 0xFFFFFFFF for f in frames] == [
        (p.timestamp - first) & 0xFFFFFFFF for p in kept
    ]
    sync_stats = receiver._RTCRtpReceiver__remote_streams[SSRC]
    await receiver.stop()

    receiver, frames, _ = await a_receiver(sync=False, kind="audio")
    for packet in packets:
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    stats = receiver._RTCRtpReceiver__remote_streams[SSRC]
    assert len(frames) <= len(kept) - 4  # aiortc's buffer still holds the last ones back
    for name in ("packets_received", "max_seq", "cycles", "base_seq", "packets_lost"):
        assert getattr(sync_stats, name) == getattr(stats, name)
    await receiver.stop()


def test_a_video_frame_is_forwarded_at_its_last_packet_not_at_the_next_frame(
    media_file: Path,
) -> None:
    """`FrameAssembler` makes the frames aiortc's video jitter buffer makes, from the same
    packets (with losses repaired late, reordering, duplicates and a jump), each as soon as
    its marker packet completes it instead of one frame later (or, after a repaired loss, one
    packet per frame later), with the same PLI flags."""
    # a jump after frame 90 neither buffer can hold (both drop and ask for a keyframe); wraps
    packets = vp8_rtp(media_file, frames=120, first_seq=65400, jump_after=(90, -1))
    for packet in packets:
        packet._data = vp8_depayload(packet.payload)  # type: ignore[attr-defined]
    arrivals: list[RtpPacket] = []
    late: list[RtpPacket] = []
    for n, packet in enumerate(packets):
        if n % 13 == 4:
            late.append(packet)  # lost, resent three packets later
            continue
        arrivals.append(packet)
        if n % 19 == 0:
            arrivals.append(packet)  # duplicate
        if n % 23 == 0 and len(arrivals) > 2:
            arrivals[-1], arrivals[-2] = arrivals[-2], arrivals[-1]  # reordered
        if late and n % 13 == 7:
            arrivals.append(late.pop(0))

    def run(buffer: JitterBuffer) -> tuple[list[tuple[bytes, int, int]], list[int]]:
        frames, plis = [], []
        for at, packet in enumerate(arrivals):
            pli, frame = buffer.add(packet)
            if pli:
                plis.append(at)
            while frame is not None:  # as `_SyncRtpHandler` asks ours for every whole frame
                frames.append((frame.data, frame.timestamp, at))
                frame = buffer.ready() if isinstance(buffer, FrameAssembler) else None
        return frames, plis

    ours, our_plis = run(FrameAssembler(capacity=512, is_video=True))
    theirs, their_plis = run(JitterBuffer(capacity=512, is_video=True))
    assert len(theirs) > 80 and our_plis == their_plis and our_plis
    # Ours makes every frame sent, in order (every loss was repaired); aiortc's misses the
    # frames it still held when the jump flushed it, and the last one (it waits for a next).
    sent = [(data, i * 3000) for i, data in enumerate(video_packets(media_file)[:120])]
    assert [f[:2] for f in ours] == sent
    at = {f[:2]: f[2] for f in ours}
    assert [f[:2] for f in ours if f[:2] in {g[:2] for g in theirs}] == [g[:2] for g in theirs]
    assert all(at[g[:2]] <= g[2] for g in theirs)
    earlier = sum(1 for g in theirs if at[g[:2]] < g[2])
    assert earlier > len(theirs) * 0.9  # nearly all leave at once, not a frame later
