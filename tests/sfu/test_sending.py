"""`RtpWriter` sends the packets aiortc's own sender would: same header, extensions, payloads,
and RTX retransmissions on NACK. Fakes stand in for the DTLS/ICE transports (no sockets)."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime
from typing import Any

from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, wrap_rtx
from pylibsrtp import Policy, Session

from sfu.frames import Codec, EncodedFrame, PackedFrame, Packetizer
from sfu.rtp import ResendGate
from sfu.sending import RtpWriter
from sfu.srtp import fast_protect
from tests.support.sfu_rtp import EXTENSIONS, RTX, VP8, FakeSender, frame, start
from tests.support.waiting import until_passes


def test_packets_are_those_aiortc_would_send_and_frames_wait_for_the_sender() -> None:
    sender = FakeSender()
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    packed = frame()
    assert len(packed.payloads) == 3
    assert writer.write(packed) and not sender.sent  # held until the sender starts
    start(writer, sender, [VP8, RTX])
    assert sender.started == 1 and len(sender.sent) == 3
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpSendParameters(headerExtensions=EXTENSIONS))
    first = RtpPacket.parse(sender.sent[0], extensions)
    for i, data in enumerate(sender.sent):
        packet = RtpPacket.parse(data, extensions)
        assert packet.payload_type == 97 and packet.ssrc == sender._ssrc
        assert packet.sequence_number == (first.sequence_number + i) & 0xFFFF
        assert packet.timestamp == first.timestamp
        assert packet.marker == (i == 2)
        assert packet.payload == packed.payloads[i]
        assert packet.extensions.mid == "3" and packet.extensions.abs_send_time is not None
        # byte for byte what aiortc's sender serialises for the same fields
        assert packet.serialize(extensions) == data
    assert sender._RTCRtpSender__packet_count == 3
    assert sender._RTCRtpSender__octet_count == packed.size
    assert sender._RTCRtpSender__rtp_timestamp == first.timestamp
    start(writer, sender, [VP8, RTX])  # a renegotiation: nothing resent, nothing reset
    writer.write(packed)
    assert len(sender.sent) == 6
    assert (
        RtpPacket.parse(sender.sent[3], extensions).sequence_number
        == (first.sequence_number + 3) & 0xFFFF
    )


async def test_a_track_started_goes_paced_and_later_frames_queue_behind() -> None:
    sender = FakeSender()
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    packetizer = Packetizer(Codec("video/VP8", 90000))
    data = bytes(range(200))

    def at(timestamp: int) -> PackedFrame:
        return EncodedFrame(Codec("video/VP8", 90000), data, timestamp, packetizer).packed()

    routes_changed: list[bool] = []
    writer.on_route_change = lambda: routes_changed.append(writer.catching_up)
    await sender.send(RTCRtpSendParameters(codecs=[VP8, RTX], headerExtensions=EXTENSIONS))
    # A newcomer's keyframe and the frames since (1/30 s apart): the first goes at once.
    assert writer.catch_up([at(3000 * i) for i in range(4)])
    assert len(sender.sent) == 1 and writer.catching_up
    assert writer.native_dest() is None  # not from C's fan-out meanwhile
    assert writer.write(at(3000 * 4))  # a live frame: behind them
    await until_passes(lambda: assert_frames(sender, 5), timeout=5)
    assert not writer.catching_up
    timestamps = [RtpPacket.parse(data).timestamp for data in sender.sent]
    assert timestamps == sorted(timestamps)  # in order
    # C's fan-out is told when it starts catching up and when it has caught up.
    assert routes_changed[0] and not routes_changed[-1]
    writer.write(at(3000 * 5))  # caught up: at once
    assert len(sender.sent) == 6


def assert_frames(sender: FakeSender, count: int) -> None:
    assert len(sender.sent) == count


def test_a_nacked_packet_is_resent_as_rtx_exactly_as_aiortc_wraps_it() -> None:
    sender = FakeSender()
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    start(writer, sender, [VP8, RTX])
    writer.write(frame())
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpSendParameters(headerExtensions=EXTENSIONS))
    lost = RtpPacket.parse(sender.sent[2], extensions)
    asyncio.run(writer._retransmit(lost.sequence_number))
    asyncio.run(writer._retransmit((lost.sequence_number + 1) & 0xFFFF))  # never sent: ignored
    assert len(sender.resent) == 1
    rtx = RtpPacket.parse(sender.resent[0], extensions)
    expected = wrap_rtx(lost, payload_type=98, sequence_number=rtx.sequence_number, ssrc=0x55667788)
    assert sender.resent[0] == expected.serialize(extensions)
    asyncio.run(writer._retransmit(lost.sequence_number))
    assert len(sender.resent) == 1  # NACKed again within a round trip: that copy is on its way
    writer._resent = ResendGate()  # a round trip later
    asyncio.run(writer._retransmit(lost.sequence_number))
    second = RtpPacket.parse(sender.resent[1], extensions)
    assert second.sequence_number == (rtx.sequence_number + 1) & 0xFFFF


def test_without_rtx_a_nacked_packet_is_resent_as_it_was() -> None:
    sender = FakeSender()
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    start(writer, sender, [VP8])
    writer.write(frame(500))
    seq = int.from_bytes(sender.sent[0][2:4], "big")
    asyncio.run(writer._retransmit(seq))
    assert sender.resent == sender.sent


def test_a_vp8_track_packetises_each_frame_once_with_consecutive_picture_ids() -> None:
    codec = Codec("video/VP8", 90000)
    packetizer = Packetizer(codec)
    a = EncodedFrame(codec, b"\x10" * 100, 0, packetizer)
    b = EncodedFrame(codec, b"\x11" * 100, 3000, packetizer)
    assert a.packed() is a.packed()  # shared by every subscriber
    first, second = a.packed().payloads[0], b.packed().payloads[0]
    picture = int.from_bytes(first[2:4], "big") & 0x7FFF
    assert int.from_bytes(second[2:4], "big") & 0x7FFF == (picture + 1) % (1 << 15)
    assert b.packed().timestamp == 3000
    opus = EncodedFrame(Codec("audio/opus", 48000), b"\x01\x02", 960)
    assert opus.packed().payloads == [b"\x01\x02"] and opus.packed().timestamp == 960


def test_the_fast_srtp_protection_is_pylibsrtps_byte_for_byte() -> None:
    key = bytes(range(30))

    def session() -> Session:
        policy = Policy(
            key=key,
            srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        )
        return Session(policy=policy)

    reference, fast = session(), fast_protect(session())
    for seq in range(50):
        head = struct.pack("!BBHII", 0x80, 97, seq, 9000, 1234)
        payload = bytes([seq]) * (seq * 25)
        if seq % 2:
            assert fast(head + payload) == reference.protect(head + payload)
        else:  # header and payload handed over apart, as `RtpWriter` does
            assert fast(head, payload) == reference.protect(head + payload)


def test_a_new_nominated_pair_or_srtp_session_is_used_from_the_next_frame() -> None:
    sender = FakeSender()
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    start(writer, sender, [VP8])
    writer.write(frame(500))
    assert len(sender.sent) == 1
    moved: list[tuple[bytes, Any]] = []

    class Udp:
        def sendto(self, data: bytes, addr: Any) -> None:
            moved.append((data, addr))

    class Pair:  # ICE switched to another candidate pair
        protocol = type("Protocol", (), {"transport": Udp()})()
        remote_addr = ("127.0.0.2", 10)

    dtls: Any = sender.transport
    dtls.transport._connection._nominated[1] = Pair()
    writer.write(frame(500))
    assert len(sender.sent) == 1 and len(moved) == 1 and moved[0][1] == ("127.0.0.2", 10)
    dtls._tx_srtp = type("Srtp", (), {"protect": staticmethod(lambda data: b"new key" + data)})()
    writer.write(frame(500))
    assert len(moved) == 2 and moved[1][0].startswith(b"new key")
    dtls._state = DtlsState.CLOSED  # closing: nothing sent, nothing raised
    writer.write(frame(500))
    assert len(moved) == 2


def test_the_packet_arrival_clock_is_aiortcs_in_milliseconds_since_1900() -> None:
    from aiortc import clock

    before = int((datetime.now(UTC) - clock.NTP_EPOCH).total_seconds() * 1000)
    now = clock.current_ms()
    after = int((datetime.now(UTC) - clock.NTP_EPOCH).total_seconds() * 1000)
    assert before <= now <= after
