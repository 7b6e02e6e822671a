"""Frames in: a publisher receiver's RTP packets made into encoded frames, never decoded.

A publisher's `RTCRtpReceiver` keeps doing what aiortc does with each packet (statistics for
its receiver reports, RTX unwrapping, NACKs, depayloading, the jitter buffer), with three
changes made before it starts (`SyncRtpHandler.install`, `FrameAssembler.install`,
`FrameTap.install`, `no_bandwidth_estimation`): packets are handled by a plain function
rather than a coroutine each, a video frame is complete at its last packet, and complete
frames go to the SFU (`FrameTap`) instead of the decoder thread.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, cast

from aiortc import RTCRtpReceiver
from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import vp8_depayload
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket, unwrap_rtx

from sfu.aiortc_internals import ReceiverInternals, depayloaded, receiver_internals
from sfu.errors import SfuError
from sfu.frames import Codec, EncodedFrame, Packetizer
from sfu.rtp import is_late_audio

Run = Callable[[Coroutine[Any, Any, None]], None]
Depayloader = Callable[[bytes], bytes]


class _HandledReceiver(Protocol):
    """A publisher's receiver with the SFU's handler on it (`FastReceive` looks for it)."""

    _sfu_handle_rtp: SyncRtpHandler


class FrameTap(queue.Queue[Any]):
    """Stands in for a receiver's private decoder queue: frames go to `deliver`, undecoded.

    The idle decoder thread aiortc starts still blocks on `get()`; the `None` that
    `RTCRtpReceiver` puts on stop reaches it, so it ends as usual.
    """

    def __init__(self, deliver: Callable[[EncodedFrame], None]) -> None:
        super().__init__()
        self._deliver = deliver
        self._codec: Any = None
        self._packetizer: Packetizer | None = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)
            return
        codec, frame = item
        packetizer = self._packetizer
        if codec is not self._codec or packetizer is None:
            self._codec = codec
            packetizer = self._packetizer = Packetizer(Codec(codec.mimeType, codec.clockRate))
        payloads = frame.payloads if isinstance(frame, AssembledFrame) else None
        self._deliver(
            EncodedFrame(packetizer.codec, frame.data, frame.timestamp, packetizer, payloads)
        )

    @classmethod
    def install(cls, receiver: RTCRtpReceiver, deliver: Callable[[EncodedFrame], None]) -> FrameTap:
        """Put a tap on a receiver before it starts (from the `track` event)."""
        if not hasattr(receiver, "_RTCRtpReceiver__decoder_queue"):
            raise SfuError("aiortc internals changed: RTCRtpReceiver has no decoder queue")
        private = receiver_internals(receiver)
        if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
            raise SfuError("the receiver started before its frame tap was installed")
        tap = cls(deliver)
        private._RTCRtpReceiver__decoder_queue = tap
        return tap


class AssembledFrame(JitterFrame):
    """A frame from `FrameAssembler`: aiortc's `JitterFrame` (the depayloaded frame), with the
    RTP payloads it came in, which VP8 forwarding sends on as they are (`EncodedFrame`)."""

    def __init__(self, packets: list[RtpPacket], timestamp: int) -> None:
        super().__init__(b"".join([depayloaded(x)._data for x in packets]), timestamp)
        self.payloads = [x.payload for x in packets if x.payload]  # not padding


class FrameAssembler(JitterBuffer):
    """aiortc's video jitter buffer, with a frame complete at its last packet.

    aiortc's buffer knows a frame is complete only when the next frame's first packet is in,
    which holds every frame back one frame interval (33 ms at 30 fps) at the SFU. Here the
    packet carrying the marker bit (RFC 7741 and RFC 6184: the frame's last) completes it too,
    once every packet from the buffer's start to it is in; and when a late packet completes
    several frames at once, `ready()` hands on the others at once rather than one per later
    packet (`SyncRtpHandler` asks for them). Everything else is aiortc's: the next timestamp
    still completes a frame whose marker was lost, and losses, reordering and overflow are
    handled the same way (NACK, PLI, dropping to the next frame). Overrides
    `aiortc.jitterbuffer.JitterBuffer._remove_frame` of aiortc 1.16.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        if origin is None:
            return None  # nothing added yet
        packets: list[RtpPacket] = []
        timestamp = None
        for count in range(self._capacity):
            packet = self._packets[(origin + count) % self._capacity]
            if packet is None:
                return None  # a packet of the first frame is still missing
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:  # the next frame started: the first is whole
                self.remove(count)
                return AssembledFrame(packets, timestamp)
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return AssembledFrame(packets, timestamp)
        return None

    def ready(self) -> JitterFrame | None:
        """The next frame, if it is whole too (`add` returns the first one only)."""
        return self._remove_frame(0)

    @classmethod
    def install(cls, receiver: RTCRtpReceiver) -> None:
        """Put one on a video receiver before it starts, in place of aiortc's."""
        current = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
        if not isinstance(current, JitterBuffer):
            raise SfuError("aiortc internals changed: RTCRtpReceiver has no jitter buffer")
        if current._is_video:
            private = receiver_internals(receiver)
            private._RTCRtpReceiver__jitter_buffer = cls(capacity=current.capacity, is_video=True)


def no_bandwidth_estimation(receiver: RTCRtpReceiver) -> None:
    """Drop a publisher receiver's remote bitrate estimator (and so its REMB feedback).

    aiortc runs it on every video packet that carries abs-send-time (inter-arrival groups,
    an overuse detector, a rate counter): ~8 % of the SFU's CPU in a meeting, for a figure the
    SFU never reads. Publishers keep their loss-based estimate (receiver reports).
    """
    if not hasattr(receiver, "_RTCRtpReceiver__remote_bitrate_estimator"):
        raise SfuError("aiortc internals changed: RTCRtpReceiver has no bitrate estimator")
    receiver_internals(receiver)._RTCRtpReceiver__remote_bitrate_estimator = None


class SyncRtpHandler:
    """aiortc 1.16's `RTCRtpReceiver._handle_rtp_packet` as a plain function, for `FastReceive`.

    The same steps on the receiver's own state (statistics for its receiver reports, RTX
    unwrapping, NACK generation, depayloading, the jitter buffer, frames to its decoder queue,
    i.e. the `FrameTap`), without a coroutine per packet; RTCP it sends (NACK, PLI) is run by
    `FastReceive` as aiortc would await it. Left out: the sources' last-seen times for
    `getSynchronizationSources()` (a datetime per packet; the SFU never asks) and the debug
    log line. A receiver that still has a bitrate estimator goes through aiortc's coroutine.

    One step differs: audio skips aiortc's jitter buffer. That buffer hands a packet on only
    once four later ones are in (80 ms of Opus, for a decoder the SFU does not run); each Opus
    packet is a whole frame, so it goes out as it comes, as any forwarding SFU sends it, and
    the browser's own jitter buffer orders and paces what it receives. A duplicate or a
    packet older than one already forwarded (by fewer than `AUDIO_MISORDER`) is dropped;
    further back is a restarted stream.
    """

    def __init__(
        self, receiver: RTCRtpReceiver, aiortc_handle: Any, seen: Callable[[Any], None]
    ) -> None:
        for name in ("codecs", "remote_streams", "nack_generator", "jitter_buffer"):
            if not hasattr(receiver, f"_RTCRtpReceiver__{name}"):
                raise SfuError(f"aiortc internals changed: RTCRtpReceiver has no __{name}")
        self._receiver: ReceiverInternals = receiver_internals(receiver)
        self._aiortc_handle = aiortc_handle
        self._seen = seen
        # payload type → (its codec, is RTX, depayloader), checked against the receiver's
        # codecs at each packet (a renegotiation may change them)
        self._codecs: dict[int, tuple[Any, bool, Depayloader]] = {}
        self._audio = self._receiver._RTCRtpReceiver__kind == "audio"
        self._last_audio: int | None = None  # sequence number of the last forwarded packet

    @classmethod
    def install(cls, receiver: RTCRtpReceiver, seen: Callable[[RtpPacket], None]) -> None:
        """Call `seen` with every packet a publisher's receiver gets, and handle them with a
        `SyncRtpHandler` from `FastReceive` (aiortc's coroutine, wrapped, otherwise)."""
        private = receiver_internals(receiver)
        handle = private._handle_rtp_packet

        async def watched(packet: RtpPacket, arrival_time_ms: int) -> None:
            seen(packet)
            await handle(packet, arrival_time_ms=arrival_time_ms)

        private._handle_rtp_packet = watched
        cast(_HandledReceiver, receiver)._sfu_handle_rtp = cls(receiver, handle, seen)

    def _codec(self, payload_type: int) -> tuple[Any, bool, Depayloader] | None:
        codec = self._receiver._RTCRtpReceiver__codecs.get(payload_type)
        if codec is None:
            return None
        known = self._codecs.get(payload_type)
        if known is None or known[0] is not codec:
            # as aiortc's `depayload` and `is_rtx` decide
            depayloader: Depayloader
            if codec.name == "VP8":
                depayloader = vp8_depayload
            elif codec.name == "H264":
                depayloader = h264_depayload
            else:
                depayloader = bytes
            rtx = codec.name.lower() == "rtx"
            known = self._codecs[payload_type] = (codec, rtx, depayloader)
        return known

    def __call__(self, packet: RtpPacket, arrival_time_ms: int, run: Run) -> None:
        receiver = self._receiver
        if receiver._RTCRtpReceiver__remote_bitrate_estimator is not None:
            run(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))
            return
        self._seen(packet)
        if not receiver._enabled:
            return
        known = self._codec(packet.payload_type)
        if known is None:
            return
        codec, rtx, depayloader = known
        streams = receiver._RTCRtpReceiver__remote_streams
        stream = streams.get(packet.ssrc)
        if stream is None:
            stream = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stream.add(packet)
        if rtx:
            original_ssrc = receiver._RTCRtpReceiver__rtx_ssrc.get(packet.ssrc)
            if original_ssrc is None:
                return
            apt = codec.parameters.get("apt")
            if len(packet.payload) < 2 or not isinstance(apt, int):
                return
            known = self._codec(apt)
            if known is None:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            codec, _, depayloader = known
        nack = receiver._RTCRtpReceiver__nack_generator
        if nack is not None and nack.add(packet):
            run(receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing)))
        data = depayloaded(packet)
        try:
            data._data = depayloader(packet.payload) if packet.payload else b""
        except ValueError:
            return
        if self._audio:
            self._forward_audio(codec, packet, data._data)
            return
        jitter_buffer = receiver._RTCRtpReceiver__jitter_buffer
        pli_flag, encoded_frame = jitter_buffer.add(packet)
        decoder_error = receiver._RTCRtpReceiver__decoder_error
        if decoder_error.is_set():
            decoder_error.clear()
            if receiver._RTCRtpReceiver__kind == "video":
                pli_flag = True
        if pli_flag:
            run(receiver._send_rtcp_pli(packet.ssrc))
        if encoded_frame is None or not receiver._RTCRtpReceiver__decoder_thread:
            return
        mapper = receiver._RTCRtpReceiver__timestamp_mapper
        tap = receiver._RTCRtpReceiver__decoder_queue
        while encoded_frame is not None:
            encoded_frame.timestamp = mapper.map(encoded_frame.timestamp)
            tap.put((codec, encoded_frame))
            # aiortc hands on one frame per packet; after a repaired loss several are whole
            encoded_frame = (
                jitter_buffer.ready() if isinstance(jitter_buffer, FrameAssembler) else None
            )

    def _forward_audio(self, codec: Any, packet: RtpPacket, data: bytes) -> None:
        seq = packet.sequence_number
        if is_late_audio(self._last_audio, seq):
            return  # a duplicate, or late: a newer packet went out already
        self._last_audio = seq
        receiver = self._receiver
        if receiver._RTCRtpReceiver__decoder_thread:
            mapper = receiver._RTCRtpReceiver__timestamp_mapper
            frame = JitterFrame(data, mapper.map(packet.timestamp))
            receiver._RTCRtpReceiver__decoder_queue.put((codec, frame))
