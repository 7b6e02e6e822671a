"""`sfu.native`, the C sender: a subscriber's frames sent from C (one `sendmmsg` per frame),
alone or to every writer of a track at once, are the bytes the Python path sends, on real
loopback sockets with real SRTP sessions; retransmissions and sender reports follow what C
sent; a closed writer gets nothing more and leaves no socket open. The packaging builds it
where a C compiler exists; without it (or built from other sources) the writer sends from
Python, the tests that need it skip saying why, and `python -m sfu.native` warns with the
compiler's reason."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from pylibsrtp import Policy, Session

from sfu import native
from sfu.frames import Codec, PackedFrame, Packetizer
from sfu.native import build
from sfu.rtp import NTP_OFFSET, RTP_HISTORY
from sfu.sending import RtpWriter, send_from_c
from tests.support.servers import ROOT
from tests.support.sfu_rtp import EXTENSIONS, RTX, VP8, FakeSender

KEY = bytes(range(28))
needs_c = pytest.mark.skipif(native.LIB is None, reason=f"the C sender is not in use: {native.WHY}")
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
        self.dtls_handlers: list[Any] = []  # what the writer listens to ("statechange")
        dtls.on = lambda event, handler: self.dtls_handlers.append(handler)


async def receive(inbox: socket.socket, count: int) -> list[bytes]:
    """The next `count` packets to arrive in `inbox`, decrypted (with a fresh session), and
    any more already there: whatever a write sent is sent by the time its last packet is."""
    loop = asyncio.get_running_loop()
    rx = session(Policy.SSRC_ANY_INBOUND)
    packets = []
    async with asyncio.timeout(10):
        while len(packets) < count:
            packets.append(rx.unprotect(await loop.sock_recv(inbox, 2048)))
    while True:
        try:
            packets.append(rx.unprotect(inbox.recv(2048)))
        except BlockingIOError:
            return packets


async def arrived_before_a_marker(inbox: socket.socket) -> list[bytes]:
    """What reached `inbox` before a datagram sent now from another socket (loopback delivers
    a datagram during its send: anything sent earlier is there first)."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as marker:
        marker.sendto(b"marker", inbox.getsockname())
    before = []
    async with asyncio.timeout(10):
        while (data := await loop.sock_recv(inbox, 2048)) != b"marker":
            before.append(data)
    return before


async def received_by_a_subscriber(
    frames: list[PackedFrame], *, expect: int, close: bool = False
) -> list[bytes]:
    """Send `frames` through a writer on loopback; the packets the subscriber decrypts, once
    `expect` of them came (on a closed socket: what came before a marker sent after them)."""
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
        if close:
            return await arrived_before_a_marker(inbox)
        return await receive(inbox, expect)
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


@needs_c
def test_a_c_sender_built_from_other_sources_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    assert native.load()[1] is not None
    monkeypatch.setattr(native, "source_hash", lambda: "0" * 64)  # the sources changed since
    ffi, lib, why = native.load()
    assert (ffi, lib) == (None, None)
    assert "other sources" in why


def test_without_the_c_sender_make_warns_with_the_compilers_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(native, "LIB", None)
    monkeypatch.setattr(native, "WHY", "not built (No module named 'sfu.native._sender')")
    monkeypatch.setenv("CC", "/nonexistent/cc")  # as on a machine without a compiler
    assert native.main() == 0  # the SFU works without it
    err = capsys.readouterr().err
    assert "warning: the SFU's C sender is not in use: not built" in err
    assert "building it fails" in err and "/nonexistent/cc" in err
    assert "sending from Python" in err


def test_the_c_sender_is_compiled_with_warnings_as_errors() -> None:
    assert "-Werror" in build.COMPILE_ARGS


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to build the C sender")
def test_a_wheel_of_the_project_carries_the_c_sender_built_and_its_sources(
    tmp_path: Path,
) -> None:
    tree, dist = tmp_path / "tree", tmp_path / "dist"
    skip = shutil.ignore_patterns("__pycache__", "_sender*")
    for package in ("plumbing", "realtime", "sfu", "web"):
        shutil.copytree(ROOT / package, tree / package, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "--quiet", str(tree), "--wheel-dir", str(dist)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert any(n.startswith("sfu/native/_sender.") and n.endswith(".so") for n in names), names
    assert {"sfu/native/sender.c", "sfu/native/sender.h", "sfu/native/build.py"} <= names


@needs_c
async def test_frames_from_c_are_the_bytes_python_sends() -> None:
    sent = frames()
    from_c = await received_by_a_subscriber(sent, expect=154)
    assert native.LIB is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "LIB", None)
        from_python = await received_by_a_subscriber(frames(), expect=154)
    assert len(from_c) == 154 and from_c == from_python
    payloads = [p for f in sent for p in f.payloads]
    seqs = [int.from_bytes(p[2:4], "big") for p in from_c]
    assert seqs == [(65500 + i) & 0xFFFF for i in range(154)]
    markers = [i for i, p in enumerate(from_c) if p[1] & 0x80]
    assert markers == [0, 3, 153]  # each frame's last packet, not the end of a batch
    assert all(p.endswith(payload) for p, payload in zip(from_c, payloads, strict=True))


async def test_nothing_goes_out_on_a_closing_socket() -> None:
    assert await received_by_a_subscriber(frames(), expect=0, close=True) == []


async def test_the_python_path_sends_without_the_native_sender(without_native: Any) -> None:
    assert len(await received_by_a_subscriber(frames(), expect=154)) == 154


@dataclass
class Subscriber:
    writer: RtpWriter
    sender: Sender
    inbox: socket.socket
    transport: Any

    async def received(self, count: int) -> list[bytes]:
        """The packets that arrived since last time, decrypted, once `count` of them came."""
        return await receive(self.inbox, count)


@asynccontextmanager
async def subscribers(count: int) -> AsyncIterator[list[Subscriber]]:
    """`count` started writers, each with its own socket, SRTP session, numbering and
    timestamp origin, and a loopback inbox (its packets are decrypted with a fresh session,
    so call `received()` once per writer)."""
    loop = asyncio.get_running_loop()
    made: list[Subscriber] = []
    try:
        for i in range(count):
            inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            inbox.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
            inbox.bind(("127.0.0.1", 0))
            inbox.setblocking(False)
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
            )
            sender = Sender(transport, inbox.getsockname())
            sender._ssrc = 0x1000 + i
            sender._RTCRtpSender__cname = None  # type: ignore[attr-defined]  # no SDES
            writer = RtpWriter(sender)  # type: ignore[arg-type]
            writer._seq = 65530 - 1000 * i
            writer._timestamp_origin = 7 * i
            made.append(Subscriber(writer, sender, inbox, transport))
            await sender.send(
                RTCRtpSendParameters(codecs=[VP8, RTX], headerExtensions=EXTENSIONS, muxId="1")
            )
            writer._abs_send_time = False  # the same bytes whatever the clock
        yield made
    finally:
        for sub in made:
            sub.writer.close()
            sub.transport.close()
            sub.inbox.close()


def fan_out(subs: list[Subscriber], frame: PackedFrame, now: float = 0.0) -> None:
    """`frame` from C to every writer of `subs` that may take it, as the room sends it."""
    writers = [s.writer for s in subs]
    dests = [w.native_dest() for w in writers]
    assert all(d is not None for d in dests)
    send_from_c(native.FFI.new("atelier_dest *[]", dests), len(dests), frame, now or NTP_OFFSET)


@needs_c
async def test_a_frame_fanned_out_from_c_is_each_writers_own_python_bytes() -> None:
    # Frames alternate between each writer's own path and the fan-out: one numbering.
    async with subscribers(3) as subs:
        sent = frames()
        for sub in subs:
            sub.writer.write(sent[0])
        fan_out(subs, sent[1])
        fan_out(subs, sent[2])
        from_c = [await sub.received(154) for sub in subs]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "LIB", None)
        async with subscribers(3) as subs:
            for frame in frames():
                for sub in subs:
                    sub.writer.write(frame)
            from_python = [await sub.received(154) for sub in subs]
    assert [len(p) for p in from_c] == [154, 154, 154]
    assert from_c == from_python
    for i, packets in enumerate(from_c):
        seqs = [int.from_bytes(p[2:4], "big") for p in packets]
        assert seqs == [(65530 - 1000 * i + k) & 0xFFFF for k in range(154)]
        assert {int.from_bytes(p[8:12], "big") for p in packets} == {0x1000 + i}


@needs_c
async def test_abs_send_time_is_the_fan_outs_clock() -> None:
    async with subscribers(2) as subs:
        for sub in subs:
            sub.writer._abs_send_time = True
            sub.writer._route = None  # its extensions are given to C again
        now = NTP_OFFSET + 1_700_000_000.25
        fan_out(subs, frames()[1], now)
        for sub in subs:
            packets = await sub.received(3)
            assert len(packets) == 3
            stamp = int(now * 262144) & 0xFFFFFF
            assert all(stamp.to_bytes(3, "big") in p[12:24] for p in packets)


@needs_c
async def test_retransmissions_and_sender_reports_follow_what_c_sent() -> None:
    async with subscribers(2) as subs:
        sent = frames()
        track = Packetizer(Codec("video/VP8", 90000))  # keeps its track's last frames
        for frame in sent:
            track.keep(frame)
        fan_out(subs, sent[0])
        fan_out(subs, sent[1])
        for sub in subs:
            packets = await sub.received(4)
            assert len(packets) == 4
            for packet in packets:  # NACKed: the very packet, unprotected
                assert sub.writer._sent_packet(int.from_bytes(packet[2:4], "big")) == packet
            report = sub.writer.sender_report()
            assert int.from_bytes(report[20:24], "big") == 4  # SR packet count
            assert int.from_bytes(report[24:28], "big") == sent[0].size + sent[1].size
            assert sub.sender._RTCRtpSender__packet_count == 4
        # A frame no longer kept cannot be sent again (and is not mistaken for another).
        first = int.from_bytes(packets[0][2:4], "big")
        for _ in range(RTP_HISTORY):
            track.keep(PackedFrame([b"later"], 0))
        assert subs[1].writer._sent_packet(first) is None


@needs_c
async def test_a_closed_writer_gets_nothing_more_and_its_socket_is_closed() -> None:
    async with subscribers(2) as subs:
        leaving = subs[0].writer
        dests = [s.writer.native_dest() for s in subs]
        fd = leaving._dest_fd
        assert fd >= 0 and os.fstat(fd)
        leaving.close()
        assert leaving.native_dest() is None
        with pytest.raises(OSError):
            os.fstat(fd)  # our dup of its socket is closed
        # A fan-out made before the close skips it; the other writer still gets the frame.
        send_from_c(native.FFI.new("atelier_dest *[]", dests), 2, frames()[1], NTP_OFFSET)
        # The other writer's packets, sent after any the leaving one would have had, came.
        assert len(await subs[1].received(3)) == 3
        assert await subs[0].received(0) == []


@needs_c
async def test_a_writer_whose_dtls_transport_closes_sends_nothing_more() -> None:
    async with subscribers(2) as subs:
        assert all(s.writer.native_dest() is not None for s in subs)
        fd = subs[0].writer._dest_fd
        dtls: Any = subs[0].sender.transport
        dtls._state = DtlsState.CLOSED  # aiortc then emits "statechange"
        for handler in subs[0].sender.dtls_handlers:
            handler()
        assert subs[0].writer.native_dest() is None
        with pytest.raises(OSError):
            os.fstat(fd)  # our dup of its socket is closed
        assert subs[1].writer.native_dest() is not None
