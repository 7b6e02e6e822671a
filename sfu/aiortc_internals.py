"""Every reach into aiortc's and aioice's internals, named in one place.

Written against aiortc 1.16.0 and aioice 0.13.0 (pinned in pyproject.toml). aiortc has no
public API for encoded pass-through, so the SFU depends on some of its private parts, of two
kinds, both here:

- process-wide patches, put in place by `install()` at the SFU's start (`SfuNode`, and the
  test and benchmark bots that need them), never at import; each replacement names the
  upstream function it replaces;
- typed views of the private state the SFU reads and writes on aiortc's objects
  (`ReceiverInternals`, `SenderInternals`, `DtlsInternals`, ...): the other modules reach
  aiortc's private attributes only through them (`receiver_internals(receiver)`, ...).

tests/sfu/test_aiortc_internals.py fails loudly when an upgrade moves any of it: every
attribute of the views on real aiortc objects, the signatures replaced, and the source of
each upstream function the SFU copies or replaces, as it was when this was written.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import types
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple, Protocol, cast

import aioice.ice
import aiortc.clock
import pylibsrtp
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsFingerprint, RtpRouter
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpSendParameters
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics, TimestampMapper
from aiortc.rtp import AnyRtcpPacket, HeaderExtensions, RtpPacket

from sfu import ice
from sfu.rtp import NTP_OFFSET

WRITTEN_AGAINST = {"aiortc": "1.16.0", "aioice": "0.13.0"}

Task = Coroutine[Any, Any, None]

# --- typed views of private state -----------------------------------------------------------


class ReceiverInternals(Protocol):
    """`aiortc.RTCRtpReceiver`'s private state (aiortc/rtcrtpreceiver.py)."""

    _enabled: bool
    _handle_rtp_packet: Callable[..., Task]  # replaced per publisher receiver
    _send_rtcp_nack: Callable[[int, list[int]], Task]
    _send_rtcp_pli: Callable[[int], Task]
    _RTCRtpReceiver__codecs: dict[int, RTCRtpCodecParameters]
    _RTCRtpReceiver__decoder_error: threading.Event
    _RTCRtpReceiver__decoder_queue: queue.Queue[Any]
    _RTCRtpReceiver__decoder_thread: threading.Thread | None
    _RTCRtpReceiver__jitter_buffer: JitterBuffer
    _RTCRtpReceiver__kind: str
    _RTCRtpReceiver__nack_generator: NackGenerator | None
    _RTCRtpReceiver__remote_bitrate_estimator: RemoteBitrateEstimator | None
    _RTCRtpReceiver__remote_streams: dict[int, StreamStatistics]
    _RTCRtpReceiver__rtx_ssrc: dict[int, int]
    _RTCRtpReceiver__timestamp_mapper: TimestampMapper


class SenderInternals(Protocol):
    """`aiortc.RTCRtpSender`'s private state (aiortc/rtcrtpsender.py)."""

    _ssrc: int
    _rtx_ssrc: int
    _enabled: bool
    transport: Any  # its RTCDtlsTransport (`dtls_internals` views it)
    # replaced per subscriber sender (sfu/sending.py, sfu/peers.py)
    send: Callable[[RTCRtpSendParameters], Task]
    _retransmit: Callable[[int], Task]
    _run_rtcp: Callable[[], Task]
    _send_keyframe: Callable[[], None]
    _send_rtcp: Callable[[list[AnyRtcpPacket]], Task]
    _RTCRtpSender__cname: str | None
    _RTCRtpSender__lsr: int | None
    _RTCRtpSender__lsr_time: float | None
    _RTCRtpSender__ntp_timestamp: int
    _RTCRtpSender__octet_count: int
    _RTCRtpSender__packet_count: int
    _RTCRtpSender__rtcp_exited: asyncio.Event
    _RTCRtpSender__rtcp_started: asyncio.Event
    _RTCRtpSender__rtp_timestamp: int
    _RTCRtpSender__rtt: float | None


class DtlsInternals(Protocol):
    """`aiortc.RTCDtlsTransport`'s private state (aiortc/rtcdtlstransport.py); its ICE
    connection is aioice's `Connection` (`transport._connection`: `_nominated` pairs,
    `_protocols` (one per host socket), `_queue`)."""

    transport: Any  # its RTCIceTransport
    _state: DtlsState
    _rtp_router: RtpRouter
    _rtp_header_extensions_map: HeaderExtensionsMapInternals
    _rx_srtp: pylibsrtp.Session | None
    _tx_srtp: pylibsrtp.Session | None
    _handle_rtcp_data: Callable[[bytes], Task]
    _send_rtp: Callable[[bytes], Task]
    _RTCDtlsTransport__rx_bytes: int
    _RTCDtlsTransport__rx_packets: int

    def on(self, event: str, handler: Callable[..., Any]) -> Any: ...


class HeaderExtensionsMapInternals(Protocol):
    """`aiortc.rtp.HeaderExtensionsMap`'s negotiated extension ids."""

    _HeaderExtensionsMap__ids: HeaderExtensions


class TransceiverInternals(Protocol):
    """`aiortc.RTCRtpTransceiver`'s negotiated codecs and the remote offer's direction."""

    kind: str
    _codecs: list[RTCRtpCodecParameters]
    _offerDirection: str | None


class DatagramReceiver(Protocol):
    """One of aioice's socket protocols (`StunProtocol`): its `datagram_received` is swapped
    while the SFU takes a connection's SRTP (sfu/receiving.py)."""

    datagram_received: Callable[[bytes, Any], None]


class DepayloadedPacket(Protocol):
    """An `RtpPacket` after a receiver depayloaded it (aiortc sets `_data` on it)."""

    payload: bytes
    _data: bytes


def receiver_internals(receiver: RTCRtpReceiver) -> ReceiverInternals:
    return cast(ReceiverInternals, receiver)


def sender_internals(sender: RTCRtpSender) -> SenderInternals:
    return cast(SenderInternals, sender)


def dtls_internals(dtls: RTCDtlsTransport) -> DtlsInternals:
    return cast(DtlsInternals, dtls)


def transceiver_internals(transceiver: RTCRtpTransceiver) -> TransceiverInternals:
    return cast(TransceiverInternals, transceiver)


def depayloaded(packet: RtpPacket) -> DepayloadedPacket:
    return cast(DepayloadedPacket, packet)


# --- process-wide patches ---------------------------------------------------------------------

_aioice_get_host_addresses = aioice.ice.get_host_addresses
_aiortc_get_fingerprints = RTCCertificate.getFingerprints
_fingerprints: weakref.WeakKeyDictionary[RTCCertificate, list[RTCDtlsFingerprint]] = (
    weakref.WeakKeyDictionary()
)


def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Replaces `aioice.ice.get_host_addresses` (aioice 0.13): inside an
    `sfu.ice.host_addresses(...)` block, exactly those addresses (aioice alone never offers
    127.0.0.1); elsewhere aioice's own. aioice looks the function up in its module at
    gathering time."""
    chosen = ice.chosen_host_addresses()
    if chosen is None:
        return _aioice_get_host_addresses(use_ipv4, use_ipv6)
    return list(chosen)


class GatheringAsyncio(types.ModuleType):
    """Replaces `asyncio` as `aioice.ice` sees it (aioice 0.13): the module itself, except that
    `get_running_loop()` inside an `sfu.ice.udp_ports(...)` block returns a loop that binds
    host sockets in the range (`sfu.ice.PortRangeLoop`). aioice's
    `Connection.get_component_candidates` binds them with
    `asyncio.get_running_loop().create_datagram_endpoint(..., local_addr=(address, 0))`.
    (uvloop's loops take no new attributes, and other aioice users keep the plain loop.)"""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    def get_running_loop() -> Any:
        return ice.gathering_loop()


def get_fingerprints(self: RTCCertificate) -> list[RTCDtlsFingerprint]:
    """Replaces `aiortc.rtcdtlstransport.RTCCertificate.getFingerprints` (aiortc 1.16): computed
    once per certificate. aiortc hashes the certificate (three digests) for every m-line of
    every description it makes or applies, a quarter of a subscribe renegotiation's time in a
    10-person meeting, and a certificate never changes."""
    cached = _fingerprints.get(self)
    if cached is None:
        cached = _fingerprints[self] = _aiortc_get_fingerprints(self)
    return list(cached)


def current_ms() -> int:
    """Replaces `aiortc.clock.current_ms` (aiortc 1.16; milliseconds since 1900, the arrival
    time of every RTP packet): from `time.time()` instead of timezone-aware datetime
    arithmetic."""
    return int((time.time() + NTP_OFFSET) * 1000)


class Patch(NamedTuple):
    """`owner.name` (a module's or a class's) becomes `replacement`; `original` is upstream's."""

    owner: Any
    name: str
    replacement: Any
    original: Any


PATCHES = [
    Patch(aioice.ice, "get_host_addresses", get_host_addresses, _aioice_get_host_addresses),
    Patch(aioice.ice, "asyncio", GatheringAsyncio("asyncio"), asyncio),
    Patch(RTCCertificate, "getFingerprints", get_fingerprints, _aiortc_get_fingerprints),
    Patch(aiortc.clock, "current_ms", current_ms, aiortc.clock.current_ms),
]
# What aioice's gathering must name for `GatheringAsyncio` to take effect.
_GATHERING_NAMES = {"asyncio", "get_running_loop", "create_datagram_endpoint"}


def install() -> None:
    """Put the process-wide patches in place (idempotent): at the SFU's start, not at import.

    RuntimeError when aiortc or aioice no longer has the shape they were written against."""
    gathering = aioice.ice.Connection.get_component_candidates
    if not _GATHERING_NAMES <= set(gathering.__code__.co_names):
        raise RuntimeError("aioice gathers host candidates another way: check sfu/ice.py")
    for patch in PATCHES:
        if not hasattr(patch.owner, patch.name):
            where = f"{patch.owner.__name__}.{patch.name}"
            raise RuntimeError(f"{where} is gone: check sfu/aiortc_internals.py")
        setattr(patch.owner, patch.name, patch.replacement)
    # aioice logs every candidate pair's state change at INFO: a dozen lines per participant.
    logging.getLogger("aioice.ice").setLevel(logging.WARNING)


def installed() -> bool:
    """Whether every patch is in place."""
    return all(getattr(p.owner, p.name) is p.replacement for p in PATCHES)
