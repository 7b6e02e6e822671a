"""Encoded frames, and their RTP payloads made once per publisher track for every subscriber.

A publisher's receiver hands each reassembled frame on as an `EncodedFrame` (exactly as the
publisher encoded it; sfu/frame_assembly.py). Its RTP payloads are made once, however many
subscribers get it (`EncodedFrame.packed()`): a VP8 frame goes on in the publisher's own
payloads, other codecs are packetised as aiortc's packetisers do, by one `Packetizer` per
track. The `PackedFrame` is what every subscriber's writer sends (sfu/sending.py), and what
the C sender's retransmission rings name by its `serial`.
"""

from __future__ import annotations

import fractions
import itertools
import random
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import get_encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

from sfu import native
from sfu.rtp import RTP_HISTORY


@dataclass(frozen=True)
class Codec:
    """The negotiated codec of a publication, as subscribers' senders must use it."""

    mime_type: str
    clock_rate: int

    @property
    def kind(self) -> str:
        return self.mime_type.split("/")[0]


class PackedFrame:
    """A frame packetised once for every subscriber: RTP payloads and the RTP timestamp.

    `serial` names it in the C writers' retransmission rings once its track's packetiser
    keeps it (`Packetizer.keep`); `sent_frame` finds it again by that while it is kept.
    """

    __slots__ = ("_arrays", "payloads", "serial", "size", "timestamp")

    def __init__(self, payloads: list[bytes], timestamp: int) -> None:
        self.payloads = payloads
        self.timestamp = timestamp
        self.size = sum(len(p) for p in payloads)
        self.serial = 0  # not kept
        self._arrays: tuple[Any, Any, Any] | None = None

    def arrays(self) -> tuple[Any, Any]:
        """The payloads' addresses and sizes as C arrays for the C sender, made once."""
        if self._arrays is None:
            ffi = native.FFI
            held = [ffi.from_buffer(p) for p in self.payloads]  # keeps the buffers alive
            sizes = ffi.new("int[]", [len(p) for p in self.payloads])
            self._arrays = (held, ffi.new("const unsigned char *[]", held), sizes)
        return self._arrays[1], self._arrays[2]


_PACKETIZER_IDS = itertools.count(1)
# Every live packetiser by its id (the high half of its frames' serials).
_PACKETIZERS: weakref.WeakValueDictionary[int, Packetizer] = weakref.WeakValueDictionary()


def sent_frame(serial: int) -> PackedFrame | None:
    """A frame by its serial, if its packetiser still keeps it."""
    packetizer = _PACKETIZERS.get(serial >> 32)
    return packetizer.kept(serial & 0xFFFFFFFF) if packetizer is not None else None


class Packetizer:
    """One publisher track's RTP packetiser: aiortc's, run once per frame for everyone.

    VP8 keeps a picture id across frames, so a track has one packetiser and each frame is
    packetised once (`EncodedFrame.packed()` caches it).
    """

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        mime = codec.mime_type.lower()
        # The last frames, kept for the subscribers' retransmissions (`sent_frame`).
        self.recent: deque[PackedFrame] = deque(maxlen=RTP_HISTORY)
        self._kept = 0  # frames kept so far (the low half of their serials)
        self._id = next(_PACKETIZER_IDS)
        _PACKETIZERS[self._id] = self
        self._picture_id = random.randint(0, (1 << 15) - 1)
        self._encoder: Any = None
        # VP8 frames that came in RTP go on in the publisher's own payloads (`EncodedFrame`)
        self.passes_through = mime == "video/vp8"
        if mime == "video/vp8":
            self.pack = self._vp8
        elif mime == "audio/opus":
            self.pack = self._whole
        else:
            self._encoder = (
                H264Encoder()
                if mime == "video/h264"
                else get_encoder(RTCRtpCodecParameters(codec.mime_type, codec.clock_rate))
            )
            self.pack = self._with_encoder

    def keep(self, packed: PackedFrame) -> None:
        """Keep `packed` among the last RTP_HISTORY frames, and give it its serial."""
        self._kept = (self._kept + 1) & 0xFFFFFFFF
        packed.serial = (self._id << 32) | self._kept
        self.recent.append(packed)

    def kept(self, number: int) -> PackedFrame | None:
        """The frame kept as `number` (its serial's low half), if still kept."""
        recent = self.recent
        index = len(recent) - 1 - ((self._kept - number) & 0xFFFFFFFF)
        return recent[index] if 0 <= index < len(recent) else None

    def _vp8(self, data: bytes, timestamp: int) -> PackedFrame:
        payloads = Vp8Encoder._packetize(data, self._picture_id)
        self._picture_id = (self._picture_id + 1) % (1 << 15)
        return PackedFrame(payloads, timestamp)

    def _whole(self, data: bytes, timestamp: int) -> PackedFrame:
        return PackedFrame([data], timestamp)

    def _with_encoder(self, data: bytes, timestamp: int) -> PackedFrame:
        packet = av.Packet(data)
        packet.pts = timestamp
        packet.time_base = fractions.Fraction(1, self.codec.clock_rate)
        payloads, rtp_timestamp = self._encoder.pack(packet)
        return PackedFrame(payloads, rtp_timestamp)


class EncodedFrame:
    """One reassembled frame, exactly as the publisher encoded it (read-only)."""

    __slots__ = ("_packed", "codec", "data", "packetizer", "payloads", "timestamp")

    def __init__(
        self,
        codec: Codec,
        data: bytes,
        timestamp: int,
        packetizer: Packetizer | None = None,
        payloads: list[bytes] | None = None,
    ) -> None:
        self.codec = codec
        self.data = data
        self.timestamp = timestamp
        self.packetizer = packetizer
        # The RTP payloads the frame came in, when it may be sent on in them (VP8, whose
        # payload descriptor carries nothing a subscriber's stream must change)
        self.payloads = payloads
        self._packed: PackedFrame | None = None

    def packed(self) -> PackedFrame:
        """The frame's RTP payloads, made once and shared by every subscriber (read-only)."""
        packed = self._packed
        if packed is None:
            packetizer = self.packetizer or Packetizer(self.codec)
            if self.payloads and packetizer.passes_through:
                packed = PackedFrame(self.payloads, self.timestamp)
            else:
                packed = packetizer.pack(self.data, self.timestamp)
            packetizer.keep(packed)
            self._packed = packed
        return packed
