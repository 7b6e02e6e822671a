"""Fakes for `RtpWriter` tests: the codecs and extensions a sender negotiates, a stand-in for
aiortc's `RTCRtpSender` and its transports (protection is identity, no sockets), and frames."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)

from sfu.frames import Codec, EncodedFrame, PackedFrame, Packetizer
from sfu.sending import RtpWriter

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97}
)
EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    RTCRtpHeaderExtensionParameters(
        id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    ),
]


class FakeSender:
    """What `RtpWriter` uses of an `RTCRtpSender` and its transports; protection is identity."""

    def __init__(self, kind: str = "video") -> None:
        self.kind = kind
        self._ssrc = 0x11223344
        self._rtx_ssrc = 0x55667788
        self._enabled = True
        self._RTCRtpSender__ntp_timestamp = 0
        self._RTCRtpSender__rtp_timestamp = 0
        self._RTCRtpSender__octet_count = 0
        self._RTCRtpSender__packet_count = 0
        self._RTCRtpSender__rtt: float | None = None
        self.sent: list[bytes] = []
        self.resent: list[bytes] = []
        self.started = 0
        sent = self.sent

        class Udp:
            def sendto(self, data: bytes, addr: Any) -> None:
                sent.append(data)

        class Pair:
            protocol = type("Protocol", (), {"transport": Udp()})()
            remote_addr = ("127.0.0.1", 9)

        class Dtls:
            _state = DtlsState.CONNECTED
            _tx_srtp = type("Srtp", (), {"protect": staticmethod(lambda data: data)})()
            transport = type("Ice", (), {"_connection": type("C", (), {"_nominated": {}})()})()

            async def _send_rtp(inner, data: bytes) -> None:
                self.resent.append(data)

        self.transport = Dtls()
        self.transport.transport._connection._nominated[1] = Pair()

    async def send(self, parameters: RTCRtpSendParameters) -> None:
        self.started += 1


def start(writer: RtpWriter, sender: FakeSender, codecs: list[RTCRtpCodecParameters]) -> None:
    parameters = RTCRtpSendParameters(codecs=codecs, headerExtensions=EXTENSIONS, muxId="3")
    asyncio.run(sender.send(parameters))  # type: ignore[attr-defined]  # the writer's wrapper


def frame(size: int = 3000) -> PackedFrame:
    data = bytes((i * 7) % 251 for i in range(size))
    return EncodedFrame(
        Codec("video/VP8", 90000), data, 4500, Packetizer(Codec("video/VP8", 90000))
    ).packed()
