"""RTP and RTCP arithmetic for forwarding, sans-I/O: what the SFU computes about packets.

Header fields and sequence numbers (RFC 3550), the extension block a subscriber's stream
carries with abs-send-time's slot in it, RTX retransmissions (RFC 4588), the history of what
was sent (for NACKs) and how often a packet may be sent again, sender reports, the audio level
element (RFC 6464) and late audio. Bytes and numbers in, bytes and numbers out: no aiortc, no
sockets, `now` passed in. The aiortc glue (sfu/sending.py, sfu/receiving.py,
sfu/frame_assembly.py) does the I/O around it.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence

# Packets kept per subscriber track for retransmission on NACK (as aiortc keeps).
RTP_HISTORY = 128
# An audio packet this many sequence numbers behind the last one forwarded is late (dropped);
# further behind, the publisher's stream restarted (aiortc's jitter buffer: MAX_MISORDER).
AUDIO_MISORDER = 100
# A packet is resent at most once per round trip (at least RESEND_GAP_MIN, at most
# RESEND_GAP_MAX apart), as libwebrtc and Janus do: aiortc's receivers NACK every packet still
# missing at each new gap, so under loss each one would otherwise be resent again and again
# (in a 10-person meeting on a loaded machine, ~0.7 retransmissions per packet sent), the
# retransmissions adding to the load that made the losses.
RESEND_GAP_MIN = 0.1
RESEND_GAP_MAX = 0.4
# A subscriber starting a track (a newcomer, a tile switched) is first sent what it must catch
# up on (the frames since the latest keyframe, those that came while its connection was being
# set up) no faster than this many times real time, by the frames' own RTP timestamps: in one
# burst, they overflow the receive buffers of clients on default socket settings (256 KB),
# and losses at join are what the retransmission history is least likely to still hold.
CATCH_UP_SPEED = 2.0
# The longest wait between two frames caught up on: a pause in the source is not replayed.
CATCH_UP_MAX_GAP = 0.25
# A frame sent late (a busy event loop) does not push the schedule back by more than this:
# the next ones are due as planned, so the backlog still drains at CATCH_UP_SPEED on average.
CATCH_UP_MAX_LAG = 0.05
NTP_OFFSET = 2_208_988_800  # 1900 → 1970, in seconds
RTP_HEADER = struct.Struct("!BBHII")  # first byte, marker | payload type, seq, timestamp, ssrc
_EXTENSION_PROFILE = struct.Struct("!HH")
_SENDER_REPORT = struct.Struct("!BBHLQLLL")  # RTCP SR without report blocks (RFC 3550 6.4.1)
RTCP_SR = 200


def ntp_seconds(unix_time: float) -> float:
    """Seconds since 1900 (NTP's epoch), as sender reports and abs-send-time count them."""
    return unix_time + NTP_OFFSET


def ntp_timestamp(ntp: float) -> int:
    """The 64-bit NTP timestamp (32.32 fixed point) of `ntp` seconds since 1900."""
    return int(ntp * 4294967296)


def abs_send_time(ntp: float) -> int:
    """The abs-send-time header extension's 24 bits (6.18 fixed point seconds) at `ntp`."""
    return int(ntp * 262144) & 0xFFFFFF


def next_sequence(seq: int, count: int = 1) -> int:
    """The sequence number `count` packets after `seq` (16 bits, wrapping)."""
    return (seq + count) & 0xFFFF


def sequence_offset(seq: int, first: int) -> int:
    """How many packets after `first` the packet `seq` comes (modulo 2^16)."""
    return (seq - first) & 0xFFFF


def extension_template(profile: int, low: bytes, high: bytes) -> tuple[bytes, bytes, bool]:
    """A subscriber stream's extension block, from its elements serialised twice, with the
    abs-send-time 0 and 0xFFFFFF: (the block up to abs-send-time's 3 bytes, the rest, True),
    or (the whole block, b"", False) when it carries no abs-send-time; (b"", b"", False)
    without elements."""
    if not low:
        return b"", b"", False
    block = _EXTENSION_PROFILE.pack(profile, len(low) >> 2) + low
    changed = [i for i in range(len(low)) if low[i] != high[i]]
    if not changed:
        return block, b"", False
    at = changed[0] + _EXTENSION_PROFILE.size
    return block[:at], block[at + 3 :], True


def rtx_packet(packet: bytes, header_size: int, payload_type: int, seq: int, ssrc: int) -> bytes:
    """`packet` (unprotected, its header `header_size` bytes long) as an RTX packet (RFC 4588):
    the same first byte, marker, timestamp and extensions, the RTX stream's payload type,
    sequence number and SSRC, then the original sequence number and payload."""
    return (
        RTP_HEADER.pack(
            packet[0],
            (packet[1] & 0x80) | payload_type,
            seq,
            int.from_bytes(packet[4:8], "big"),
            ssrc,
        )
        + packet[12:header_size]
        + packet[2:4]
        + packet[header_size:]
    )


def sender_report(ssrc: int, ntp: int, rtp_timestamp: int, packets: int, octets: int) -> bytes:
    """An RTCP sender report without report blocks (counters taken modulo 2^32)."""
    return _SENDER_REPORT.pack(
        0x80,
        RTCP_SR,
        6,  # length in 32-bit words, minus one
        ssrc,
        ntp,
        rtp_timestamp,
        packets & 0xFFFFFFFF,
        octets & 0xFFFFFFFF,
    )


class SentFrames:
    """The frames a stream sent, newest last, until RTP_HISTORY packets: each as (first
    sequence number, RTP timestamp, extension block, payloads), to answer NACKs."""

    def __init__(self) -> None:
        self._frames: deque[tuple[int, int, bytes, list[bytes]]] = deque(maxlen=RTP_HISTORY)

    def add(self, first: int, timestamp: int, extensions: bytes, payloads: list[bytes]) -> None:
        self._frames.append((first, timestamp, extensions, payloads))

    def find(self, seq: int) -> tuple[int, bytes, bytes, bool] | None:
        """Packet `seq` as (RTP timestamp, extensions, payload, whether it ended its frame),
        if among the last RTP_HISTORY packets sent."""
        sent = 0
        for first, timestamp, extensions, payloads in reversed(self._frames):
            index = sequence_offset(seq, first)
            if index < len(payloads):
                return timestamp, extensions, payloads[index], index == len(payloads) - 1
            sent += len(payloads)
            if sent >= RTP_HISTORY:
                break
        return None


def find_in_ring(
    seq: int, ring_next: int, ring_seq: Sequence[int], ring_count: Sequence[int], size: int
) -> tuple[int, int] | None:
    """Packet `seq` in a ring of frames sent (slot i: first sequence number `ring_seq[i]`,
    `ring_count[i]` packets; `ring_next` the next slot to fill; 0 packets: never filled):
    (slot, index in its frame), if among the last RTP_HISTORY packets."""
    sent = 0
    for back in range(1, size + 1):
        slot = (ring_next - back) % size
        count = ring_count[slot]
        if not count:
            return None
        index = sequence_offset(seq, ring_seq[slot])
        if index < count:
            return slot, index
        sent += count
        if sent >= RTP_HISTORY:
            return None
    return None


class ResendGate:
    """Lets each packet be resent at most once per round trip (`RESEND_GAP_MIN` to
    `RESEND_GAP_MAX` apart), remembering the last RTP_HISTORY sequence numbers resent."""

    def __init__(self) -> None:
        # by sequence number modulo RTP_HISTORY: (sequence number, when last resent)
        self._resent: list[tuple[int, float]] = [(-1, 0.0)] * RTP_HISTORY

    def admit(self, seq: int, now: float, rtt: float | None) -> bool:
        """Whether to resend `seq` at `now` (noted when True)."""
        slot = seq % RTP_HISTORY
        last, resent_at = self._resent[slot]
        gap = min(max(rtt or 0.0, RESEND_GAP_MIN), RESEND_GAP_MAX)
        if last == seq and now - resent_at < gap:
            return False  # resent less than a round trip ago: that copy is on its way
        self._resent[slot] = (seq, now)
        return True


class CatchUpPace:
    """When each frame of a backlog may go: after the previous one was due, by the difference
    of their RTP timestamps (`clock_rate` per second) divided by CATCH_UP_SPEED, at most
    CATCH_UP_MAX_GAP; the first one at once. So from the first frame on, the frames never go
    faster than CATCH_UP_SPEED times real time in all, and one sent late (up to
    CATCH_UP_MAX_LAG) does not slow the rest. Times are the caller's clock (seconds)."""

    def __init__(self, clock_rate: int, speed: float = CATCH_UP_SPEED) -> None:
        self._seconds_per_tick = 1.0 / (clock_rate * speed)
        self._last: tuple[int, float] | None = None  # (RTP timestamp, when it counts as sent)

    def restart(self) -> None:
        """A new backlog: its first frame goes at once."""
        self._last = None

    def due(self, timestamp: int) -> float:
        """The earliest time the frame of RTP timestamp `timestamp` may go."""
        if self._last is None:
            return float("-inf")
        last_timestamp, sent_at = self._last
        ticks = ((timestamp - last_timestamp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return sent_at + min(max(ticks * self._seconds_per_tick, 0.0), CATCH_UP_MAX_GAP)

    def sent(self, timestamp: int, now: float) -> None:
        """The frame of RTP timestamp `timestamp` went at `now` (not before it was due)."""
        due = self.due(timestamp)
        self._last = (timestamp, now if self._last is None else max(due, now - CATCH_UP_MAX_LAG))


def is_late_audio(last: int | None, seq: int) -> bool:
    """Whether audio packet `seq` is a duplicate of, or older than, the last one forwarded
    (`last`), by fewer than AUDIO_MISORDER; further back is a restarted stream."""
    return last is not None and sequence_offset(last, seq) < AUDIO_MISORDER


def audio_level(
    profile: int, data: bytes, start: int, end: int, wanted: int | None
) -> tuple[bool, int] | None:
    """The audio level element (RFC 6464: voice activity, -dBov) with id `wanted` of the
    extension block `data[start:end]` (one-byte or two-byte headers, per `profile`), checked
    as aiortc checks it: ValueError for a truncated element; None without one."""
    found = None
    pos = start
    if profile == 0xBEDE:  # one-byte headers
        while pos < end:
            head = data[pos]
            if head == 0:  # padding
                pos += 1
                continue
            size = (head & 0x0F) + 1
            pos += 1
            if pos + size > end:
                raise ValueError("RTP one-byte header extension value is truncated")
            if head >> 4 == wanted and size == 1:
                found = data[pos]
            pos += size
    elif profile == 0x1000:  # two-byte headers
        while pos < end:
            if data[pos] == 0:
                pos += 1
                continue
            if pos + 2 > end:
                raise ValueError("RTP two-byte header extension is truncated")
            ident, size = data[pos], data[pos + 1]
            pos += 2
            if pos + size > end:
                raise ValueError("RTP two-byte header extension value is truncated")
            if ident == wanted and size == 1:
                found = data[pos]
            pos += size
    if found is None:
        return None
    return (found & 0x80 == 0x80, found & 0x7F)
