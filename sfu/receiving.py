"""Packets in: a connection's SRTP and SRTCP, from the ICE socket straight to aiortc's handlers.

aiortc queues every datagram (aioice's `asyncio.Queue`) for a task that reads the queue,
unprotects, parses and awaits the receiver's (or, for RTCP, the RTP router's) handler. Once a
connection's DTLS transport is connected, `FastReceive` takes its SRTP and SRTCP as the
socket hands them over: unprotected with the same libsrtp session (sfu/srtp.py), parsed
reading only the audio level (`parse_rtp`), and given to aiortc's router and the receivers'
handlers, run at once. What the receivers make of them is sfu/frame_assembly.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import struct
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Protocol, cast

import pylibsrtp
from aiortc import RTCDtlsTransport, RTCPeerConnection
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import HeaderExtensions, RtpPacket

from sfu.aiortc_internals import DatagramReceiver, DtlsInternals, current_ms, dtls_internals
from sfu.errors import SfuError
from sfu.rtp import RTP_HEADER, audio_level
from sfu.srtp import fast_unprotect

log = logging.getLogger("atelier.sfu.receiving")

# Largest datagram read from a socket: any UDP datagram fits. asyncio's selector loop reads with
# 256 KiB, an allocation above glibc's mmap threshold: mmap, mremap and munmap for every packet.
MAX_DATAGRAM = 65536
_CSRC = [struct.Struct(f"!{n}L") for n in range(16)]
_EXTENSION_HEADER = struct.Struct("!HH")
# The extensions of an RTP packet without an audio level (shared: nothing on the receive path
# changes a packet's extensions).
_NO_EXTENSIONS = HeaderExtensions()
_new_rtp_packet = RtpPacket.__new__


class _WatchedTransport(Protocol):
    """A DTLS transport whose SRTP a `FastReceive` takes (kept on it: a cycle the collector
    frees with the connection, where a table of transports would keep them alive)."""

    _sfu_fast_receive: FastReceive


def parse_rtp(data: bytes, audio_level_id: int | None) -> RtpPacket:
    """aiortc's `RtpPacket.parse`, with the same checks and fields, reading of the header
    extensions only the audio level (what the SFU uses; aiortc's receiver reads abs-send-time
    only for the bitrate estimator the SFU removes, and routes by SSRC and payload type)."""
    size = len(data)
    if size < 12:
        raise ValueError("RTP packet length is less than 12 bytes")
    first, second, sequence_number, timestamp, ssrc = RTP_HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError("RTP packet has invalid version")
    count = first & 0x0F
    pos = 12 + 4 * count
    if size < pos:
        raise ValueError("RTP packet has truncated CSRC")
    packet = _new_rtp_packet(RtpPacket)
    packet.version = 2
    packet.marker = second >> 7
    packet.payload_type = second & 0x7F
    packet.sequence_number = sequence_number
    packet.timestamp = timestamp
    packet.ssrc = ssrc
    packet.csrc = list(_CSRC[count].unpack_from(data, 12)) if count else []
    packet.extensions = _NO_EXTENSIONS
    if first & 0x10:
        if size < pos + 4:
            raise ValueError("RTP packet has truncated extension profile / length")
        profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
        pos += 4
        end = pos + 4 * words
        if size < end:
            raise ValueError("RTP packet has truncated extension value")
        level = audio_level(profile, data, pos, end, audio_level_id)
        if level is not None:
            packet.extensions = HeaderExtensions(audio_level=level)
        pos = end
    if first & 0x20:
        padding = data[-1]
        if not padding or padding > size - pos:
            raise ValueError("RTP packet padding length is invalid")
        packet.padding_size = padding
        packet.payload = data[pos:-padding]
    else:
        packet.padding_size = 0
        packet.payload = data[pos:]
    return packet


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], awaited: Any) -> Generator[Any, Any, None]:
    """Go on with a coroutine that suspended (it yielded `awaited` to us) inside a task: the
    task waits on what it waits on, and sends into or throws into it as it would."""
    while True:
        try:
            sent = yield awaited
        except BaseException as exc:  # the task is cancelled: so is what the coroutine awaits
            try:
                awaited = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                awaited = coro.send(sent)
            except StopIteration:
                return


class FastReceive:
    """One connection's SRTP/SRTCP packets, handled as the socket hands them over.

    Once the DTLS transport is connected, each ICE socket's `datagram_received` sends SRTP and
    SRTCP (first byte 128–191, RFC 7983) here instead of aioice's queue: unprotected, parsed
    (`parse_rtp`), routed by aiortc's router and handed to the same handlers, whose coroutines
    are run at once. They do not suspend in practice (sending RTCP is a `sendto`); if one does
    (a TURN channel bind), it goes on in a task and later packets wait behind it, in order, as
    they would have in aiortc's task. A receiver with a synchronous handler
    (`_sfu_handle_rtp`, sfu/frame_assembly.py) is given each packet without a coroutine. STUN
    (ICE checks, consent) and DTLS still go through aioice and aiortc. The transport's byte and
    packet counters are kept. This replaces, for those packets, aiortc 1.16's
    `RTCDtlsTransport._recv_next`, `_handle_rtp_data` and `_handle_rtcp_data`.
    """

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls_internals(dtls)
        self._protocols: list[DatagramReceiver] = []
        self._session: pylibsrtp.Session | None = None
        self._unprotect: Callable[[bytes], bytes] = bytes
        self._unprotect_rtcp: Callable[[bytes], bytes] = bytes
        self._router = self._dtls._rtp_router
        self._extension_ids = self._dtls._rtp_header_extensions_map._HeaderExtensionsMap__ids
        self._backlog: deque[Coroutine[Any, Any, None]] | None = None
        self._suspended: tuple[Coroutine[Any, Any, None], Any] | None = None
        self._warned = False
        self.task: asyncio.Task[None] | None = None
        self.handled = 0  # packets handled here (tests)

    @classmethod
    def watch(cls, pc: RTCPeerConnection) -> list[FastReceive]:
        """Take over each of `pc`'s DTLS transports' SRTP once it is connected; the new ones."""
        added = []
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if dtls is None or getattr(dtls, "_sfu_fast_receive", None) is not None:
                continue
            if not hasattr(dtls, "_rtp_router") or not hasattr(dtls, "_rx_srtp"):
                raise SfuError("aiortc internals changed: RTCDtlsTransport has no RTP router")
            fast = cast(_WatchedTransport, dtls)._sfu_fast_receive = cls(dtls)
            dtls.on("statechange", fast._state_changed)
            if fast._dtls._state == DtlsState.CONNECTED:
                fast._install()
            added.append(fast)
        return added

    def _state_changed(self) -> None:
        if self._dtls._state == DtlsState.CONNECTED:
            self._install()
        else:
            self._uninstall()

    def _install(self) -> None:
        if self._protocols:
            return
        connection = self._dtls.transport._connection
        for protocol in list(connection._protocols):
            receiver: DatagramReceiver = protocol
            transport = getattr(protocol, "transport", None)
            if transport is not None and getattr(transport, "max_size", 0) > MAX_DATAGRAM:
                transport.max_size = MAX_DATAGRAM
            receiver.datagram_received = functools.partial(
                self._datagram_received, receiver.datagram_received
            )
            self._protocols.append(receiver)

    def _uninstall(self) -> None:
        for protocol in self._protocols:
            with contextlib.suppress(AttributeError):
                del protocol.datagram_received  # aioice's method again
        self._protocols.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def aclose(self) -> None:
        self._uninstall()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        self._drop_backlog()

    def _datagram_received(self, aioice_received: Any, data: bytes, addr: Any) -> None:
        if data and 127 < data[0] < 192:
            self._srtp(data)
        else:
            aioice_received(data, addr)

    def _srtp(self, data: bytes) -> None:
        dtls: DtlsInternals = self._dtls
        session = dtls._rx_srtp
        if session is None:
            return  # as aiortc: SRTP before the keys are known is dropped
        if session is not self._session:
            self._session = session
            self._unprotect = fast_unprotect(session, rtcp=False)
            self._unprotect_rtcp = fast_unprotect(session, rtcp=True)
        dtls._RTCDtlsTransport__rx_bytes += len(data)
        dtls._RTCDtlsTransport__rx_packets += 1
        self.handled += 1
        try:
            if len(data) >= 2 and 192 <= data[1] <= 208:  # RTCP (aiortc's `is_rtcp`)
                self._run(dtls._handle_rtcp_data(self._unprotect_rtcp(data)))
                return
            arrival_time_ms = current_ms()
            packet = parse_rtp(self._unprotect(data), self._extension_ids.audio_level)
        except pylibsrtp.Error as exc:
            log.debug("SRTP unprotect failed: %s", exc)
            return
        except ValueError as exc:
            log.debug("RTP parsing failed: %s", exc)
            return
        receiver = self._router.route_rtp(packet)
        if receiver is None:
            return
        handle = getattr(receiver, "_sfu_handle_rtp", None)
        if handle is not None and self._backlog is None:
            handle(packet, arrival_time_ms, self._run)
        else:
            self._run(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._backlog is not None:  # an earlier packet's handler is still suspended
            self._backlog.append(coro)
            return
        try:
            awaited = coro.send(None)
        except StopIteration:
            return
        except Exception:
            self._failed()
            return
        self._backlog = deque()
        self._suspended = (coro, awaited)
        self.task = asyncio.ensure_future(self._finish())

    async def _finish(self) -> None:
        assert self._suspended is not None and self._backlog is not None
        coro, awaited = self._suspended
        try:
            await _resume(coro, awaited)
        except Exception:
            self._failed()
        self._suspended = None
        while self._backlog:
            try:
                await self._backlog.popleft()
            except Exception:
                self._failed()
        self._backlog = None

    def _failed(self) -> None:
        """A handler raised (aiortc's receiving task would have ended there, and with it the
        connection's media): the packet is dropped; a warning the first time, then debug."""
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        log.log(level, "handling a received packet failed", exc_info=True)

    def _drop_backlog(self) -> None:
        """After the task ended early (cancelled, maybe before it started): close what is
        left, as the task's cancellation would have."""
        if self._suspended is not None:
            coro, awaited = self._suspended
            if isinstance(awaited, asyncio.Future):
                awaited.cancel()
            coro.close()
            self._suspended = None
        for left in self._backlog or ():
            left.close()
        self._backlog = None
