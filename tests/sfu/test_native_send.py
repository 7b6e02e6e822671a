"""`sfu.native`: a subscriber's frames sent from C (one `sendmmsg` per frame) are the bytes the
Python path sends, on real loopback sockets with real SRTP sessions; it is built by
`make setup`, and the writer falls back to Python without it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from pylibsrtp import Policy, Session

from sfu import native
from sfu.peer import PackedFrame, RtpWriter
from tests.sfu.test_rtp_writer import EXTENSIONS, RTX, VP8, FakeSender

KEY = bytes(range(28))
PROFILE = Policy.SRTP_PROFILE_AEAD_AES_128_GCM


def session(direction: int) -> Session:
    return Session(Policy(key=KEY, ssrc_type=direction, srtp_profile=PROFILE))


class Sender(FakeSender):
    """`test_rtp_writer`'s fake sender, on a real UDP transport and SRTP session."""

    def __init__(self, transport: asyncio.DatagramTransport, to: tuple[str, int]) -> None:
        super().__init__()

        class Pair:
            protocol = type("Protocol", (), {"transport": transport})()
            remote_addr = to

        dtls: Any = self.transport
        dtls._tx_srtp = session(Policy.SSRC_ANY_OUTBOUND)
        dtls.transport._connection._nominated[1] = Pair()


async def received_by_a_subscriber(
    frames: list[PackedFrame], *, close: bool = False
) -> list[bytes]:
    """Send `frames` through a writer on loopback; the packets the subscriber decrypts."""
    loop = asyncio.get_running_loop()
    inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inbox.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)  # the keyframe at once
    inbox.bind(("127.0.0.1", 0))
    inbox.setblocking(False)
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        sender = Sender(transport, inbox.getsockname())
        writer = RtpWriter(sender)  # type: ignore[arg-type]
        writer._seq = 65500  # wraps inside the frames
        writer._timestamp_origin = 0
        await sender.send(
            RTCRtpSendParameters(codecs=[VP8, RTX], headerExtensions=EXTENSIONS, muxId="1")
        )
        writer._abs_send_time = False  # the same bytes whatever the clock
        if close:
            transport.close()
        for frame in frames:
            writer.write(frame)
        # from C exactly when it is built
        assert (writer._route.native is not None) == (native.LIB is not None) or close
        await asyncio.sleep(0.05)
        rx = session(Policy.SSRC_ANY_INBOUND)
        packets = []
        while True:
            try:
                packets.append(rx.unprotect(inbox.recv(2048)))
            except BlockingIOError:
                return packets
    finally:
        transport.close()
        inbox.close()


def frames() -> list[PackedFrame]:
    """An audio-sized frame, a three-packet one and a 150-packet keyframe (several batches)."""
    sizes = [[60], [1100, 1100, 400], [1000] * 150]
    return [
        PackedFrame([bytes([i, j]) * (n // 2) for j, n in enumerate(s)], 3000 * i)
        for i, s in enumerate(sizes)
    ]


@pytest.fixture
def without_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "LIB", None)


def test_the_native_sender_is_built() -> None:
    # `make setup` builds it (CI has a compiler); without it the SFU still works, slower.
    assert native.LIB is not None, native.WHY


async def test_frames_from_c_are_the_bytes_python_sends() -> None:
    sent = frames()
    from_c = await received_by_a_subscriber(sent)
    assert native.LIB is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "LIB", None)
        from_python = await received_by_a_subscriber(frames())
    assert len(from_c) == 154 and from_c == from_python
    payloads = [p for f in sent for p in f.payloads]
    seqs = [int.from_bytes(p[2:4], "big") for p in from_c]
    assert seqs == [(65500 + i) & 0xFFFF for i in range(154)]
    markers = [i for i, p in enumerate(from_c) if p[1] & 0x80]
    assert markers == [0, 3, 153]  # each frame's last packet, not the end of a batch
    assert all(p.endswith(payload) for p, payload in zip(from_c, payloads, strict=True))


async def test_nothing_goes_out_on_a_closing_socket() -> None:
    assert await received_by_a_subscriber(frames(), close=True) == []


async def test_the_python_path_sends_without_the_native_sender(without_native: Any) -> None:
    assert len(await received_by_a_subscriber(frames())) == 154
