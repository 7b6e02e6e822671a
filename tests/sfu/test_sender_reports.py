"""A subscriber sender's RTCP sender reports go out as `RtpWriter` sends RTP (bytes packed here,
SRTCP protection with the sender's session, `sendto` on the ICE pair's socket), byte for byte
what aiortc's `RTCRtpSender._run_rtcp` would send, and its task ends with the sender."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import (
    RtcpPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)
from pylibsrtp import Policy, Session

from sfu.ice import host_addresses
from sfu.peers import ForwardedTrack
from sfu.sending import RtpWriter
from sfu.srtp import fast_protect
from tests.support.sfu_rtp import VP8, FakeSender, frame, start

LOOPBACK = ("127.0.0.1",)


def aiortcs_report(sender: Any) -> bytes:
    """What `RTCRtpSender._run_rtcp` serialises, from the same counters."""
    packets: list[Any] = [
        RtcpSrPacket(
            ssrc=sender._ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=sender._RTCRtpSender__ntp_timestamp,
                rtp_timestamp=sender._RTCRtpSender__rtp_timestamp,
                packet_count=sender._RTCRtpSender__packet_count & 0xFFFFFFFF,
                octet_count=sender._RTCRtpSender__octet_count & 0xFFFFFFFF,
            ),
        )
    ]
    if sender._RTCRtpSender__cname is not None:
        items = [(1, sender._RTCRtpSender__cname.encode("utf8"))]
        packets.append(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=sender._ssrc, items=items)]))
    return b"".join(bytes(p) for p in packets)


def test_the_sender_report_is_aiortcs_byte_for_byte() -> None:
    sender = FakeSender()
    sender._RTCRtpSender__cname = "{a0b1c2d3-cname}"  # type: ignore[attr-defined]
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    assert writer.sender_report() == aiortcs_report(sender)  # nothing sent yet
    start(writer, sender, [VP8])
    for _ in range(3):
        writer.write(frame())
        assert writer.sender_report() == aiortcs_report(sender)
    ntp = sender._RTCRtpSender__ntp_timestamp
    assert sender._RTCRtpSender__lsr == (ntp >> 16) & 0xFFFFFFFF  # type: ignore[attr-defined]
    sender._RTCRtpSender__packet_count = (1 << 32) + 5  # counters wrap as aiortc's do
    sender._RTCRtpSender__octet_count = (1 << 33) + 7
    sender._RTCRtpSender__cname = None  # type: ignore[attr-defined]
    assert writer.sender_report() == aiortcs_report(sender)
    sender._RTCRtpSender__cname = "other"  # type: ignore[attr-defined]
    assert writer.sender_report() == aiortcs_report(sender)


def test_the_fast_srtcp_protection_is_pylibsrtps_byte_for_byte() -> None:
    def session() -> Session:
        policy = Policy(
            key=bytes(range(30)),
            srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        )
        return Session(policy=policy)

    sender = FakeSender()
    sender._RTCRtpSender__cname = "cname"  # type: ignore[attr-defined]
    writer = RtpWriter(sender)  # type: ignore[arg-type]
    reference, fast = session(), fast_protect(session(), rtcp=True)
    for count in range(20):
        sender._RTCRtpSender__packet_count = count
        report = writer.sender_report()
        assert fast(report) == reference.protect_rtcp(report)


async def test_reports_reach_a_real_peer_without_aiortcs_rtcp_path() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    remote = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        sender = pc.addTrack(ForwardedTrack("video"))
        writer = RtpWriter(sender)
        slow: list[bytes] = []  # what goes through aiortc's DTLS transport instead
        dtls = sender.transport
        aiortc_send_rtp = dtls._send_rtp

        async def send_rtp(data: bytes) -> None:
            slow.append(data)
            await aiortc_send_rtp(data)

        dtls._send_rtp = send_rtp  # type: ignore[method-assign]
        with host_addresses(LOOPBACK):
            await pc.setLocalDescription(await pc.createOffer())
            await remote.setRemoteDescription(pc.localDescription)
            await remote.setLocalDescription(await remote.createAnswer())
        await pc.setRemoteDescription(RTCSessionDescription(remote.localDescription.sdp, "answer"))
        receiver = remote.getTransceivers()[0].receiver
        got: list[RtcpPacket] = []
        handle = receiver._handle_rtcp_packet

        async def handled(packet: Any) -> None:
            got.append(packet)
            await handle(packet)

        receiver._handle_rtcp_packet = handled  # type: ignore[method-assign]

        def reports() -> list[RtcpSrPacket]:
            return [p for p in got if isinstance(p, RtcpSrPacket) and p.ssrc == sender._ssrc]

        # A frame every 20 ms, as a camera sends, until aiortc's first report on its own
        # timer has come (the pause paces the media; the loop ends on the report itself).
        for _ in range(400):
            if writer.started:
                writer.write(frame())
            if any(r.sender_info.packet_count for r in reports()):
                break
            await asyncio.sleep(0.02)
        report = next(r for r in reports() if r.sender_info.packet_count)
        assert report.sender_info.packet_count <= sender._RTCRtpSender__packet_count  # type: ignore[attr-defined]
        assert report.sender_info.octet_count <= sender._RTCRtpSender__octet_count  # type: ignore[attr-defined]
        assert receiver._RTCRtpReceiver__lsr  # the receiver took it as aiortc's own
        assert not [d for d in slow if d[1] == 200]  # no SR went aiortc's way
        task = sender._RTCRtpSender__rtcp_task  # type: ignore[attr-defined]
    finally:
        await pc.close()
        await remote.close()
    assert task.done() and not task.cancelled()
    assert [d for d in slow if d[1] == 203] or pc.connectionState == "closed"  # BYE, aiortc's
