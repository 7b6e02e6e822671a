"""`sfu.rtp`, the RTP arithmetic of forwarding: each piece gives what aiortc's own code gives
(extension blocks, RTX packets, sender reports, audio levels), and the history answers NACKs
for the last packets only, resending each at most once per round trip."""

from __future__ import annotations

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpSendParameters
from aiortc.rtp import (
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    wrap_rtx,
)

from sfu.rtp import (
    CATCH_UP_MAX_GAP,
    CATCH_UP_MAX_LAG,
    CATCH_UP_SPEED,
    RESEND_GAP_MAX,
    RESEND_GAP_MIN,
    RTP_HISTORY,
    CatchUpPace,
    ResendGate,
    SentFrames,
    abs_send_time,
    audio_level,
    extension_template,
    find_in_ring,
    is_late_audio,
    next_sequence,
    ntp_seconds,
    ntp_timestamp,
    rtx_packet,
    sender_report,
)

MID_AND_SEND_TIME = [
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    RTCRtpHeaderExtensionParameters(
        id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    ),
]


def extensions_map(parameters: list[RTCRtpHeaderExtensionParameters]) -> HeaderExtensionsMap:
    mapping = HeaderExtensionsMap()
    mapping.configure(RTCRtpSendParameters(headerExtensions=parameters))
    return mapping


def test_the_extension_template_with_a_stamp_is_aiortcs_extension_block() -> None:
    mapping = extensions_map(MID_AND_SEND_TIME)
    profile, low = mapping.set(HeaderExtensions(mid="3", abs_send_time=0))
    _, high = mapping.set(HeaderExtensions(mid="3", abs_send_time=0xFFFFFF))
    head, tail, stamps = extension_template(profile, low, high)
    assert stamps
    for stamp in (0, 1, 0x123456, 0xFFFFFF):
        packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3)
        packet.extensions = HeaderExtensions(mid="3", abs_send_time=stamp)
        expected = packet.serialize(mapping)[12:]
        assert head + stamp.to_bytes(3, "big") + tail == expected


def test_without_abs_send_time_the_block_is_whole_and_without_extensions_empty() -> None:
    mapping = extensions_map(MID_AND_SEND_TIME[:1])
    profile, low = mapping.set(HeaderExtensions(mid="3", abs_send_time=0))
    _, high = mapping.set(HeaderExtensions(mid="3", abs_send_time=0xFFFFFF))
    head, tail, stamps = extension_template(profile, low, high)
    assert (tail, stamps) == (b"", False) and head.startswith(b"\xbe\xde")
    assert extension_template(0, b"", b"") == (b"", b"", False)


def test_an_rtx_packet_is_aiortcs_wrapping() -> None:
    mapping = extensions_map(MID_AND_SEND_TIME)
    original = RtpPacket(payload_type=97, marker=1, sequence_number=65535, timestamp=9, ssrc=5)
    original.extensions = HeaderExtensions(mid="1", abs_send_time=77)
    original.payload = b"frame data"
    data = original.serialize(mapping)
    header = len(data) - len(original.payload)
    expected = wrap_rtx(original, payload_type=98, sequence_number=12, ssrc=6)
    assert rtx_packet(data, header, 98, 12, 6) == expected.serialize(mapping)


def test_a_sender_report_is_aiortcs_with_counters_modulo_two_to_the_32() -> None:
    ntp = ntp_timestamp(ntp_seconds(1_700_000_000.5))
    ours = sender_report(0xABCDEF01, ntp, 123456, (1 << 32) + 5, (1 << 33) + 7)
    info = RtcpSenderInfo(ntp_timestamp=ntp, rtp_timestamp=123456, packet_count=5, octet_count=7)
    assert ours == bytes(RtcpSrPacket(ssrc=0xABCDEF01, sender_info=info))


def test_clock_conversions_count_from_1900_in_fixed_point() -> None:
    now = ntp_seconds(1.5)
    assert now == 2_208_988_801.5
    assert ntp_timestamp(now) == (2_208_988_801 << 32) + (1 << 31)
    assert abs_send_time(now) == int(now * (1 << 18)) & 0xFFFFFF < 1 << 24


def test_sequence_numbers_wrap_at_16_bits() -> None:
    assert next_sequence(65535) == 0
    assert next_sequence(65530, 10) == 4


def test_the_history_finds_the_last_packets_sent_across_the_wrap() -> None:
    sent = SentFrames()
    sent.add(65534, 1000, b"ext", [b"a", b"b", b"c"])  # 65534, 65535, 0
    sent.add(1, 2000, b"ext", [b"d"])
    assert sent.find(65535) == (1000, b"ext", b"b", False)
    assert sent.find(0) == (1000, b"ext", b"c", True)
    assert sent.find(1) == (2000, b"ext", b"d", True)
    assert sent.find(2) is None  # not sent yet


def test_the_history_forgets_packets_older_than_the_last_rtp_history() -> None:
    sent = SentFrames()
    for frame in range(RTP_HISTORY + 1):
        sent.add(frame, frame, b"", [bytes([frame % 256])])
    assert sent.find(RTP_HISTORY) is not None
    assert sent.find(0) is None


def test_the_ring_finds_a_packet_by_its_frame_and_stops_at_empty_slots() -> None:
    size = 8
    ring_seq, ring_count = [0] * size, [0] * size
    for slot, (first, count) in enumerate([(65530, 4), (65534, 3), (1, 2)]):
        ring_seq[slot], ring_count[slot] = first, count
    assert find_in_ring(65535, 3, ring_seq, ring_count, size) == (1, 1)
    assert find_in_ring(0, 3, ring_seq, ring_count, size) == (1, 2)
    assert find_in_ring(2, 3, ring_seq, ring_count, size) == (2, 1)
    assert find_in_ring(3, 3, ring_seq, ring_count, size) is None


@pytest.mark.parametrize(
    ("rtt", "gap"), [(None, RESEND_GAP_MIN), (0.2, 0.2), (5.0, RESEND_GAP_MAX)]
)
def test_a_packet_is_resent_at_most_once_per_round_trip(rtt: float | None, gap: float) -> None:
    gate = ResendGate()
    assert gate.admit(7, 10.0, rtt)
    assert not gate.admit(7, 10.0 + gap * 0.9, rtt)
    assert gate.admit(8, 10.0, rtt)  # another packet
    assert gate.admit(7, 10.0 + gap * 1.01, rtt)  # a round trip later


def test_late_or_duplicate_audio_is_told_from_a_restarted_stream() -> None:
    assert not is_late_audio(None, 5)
    assert is_late_audio(10, 10) and is_late_audio(10, 9) and is_late_audio(1, 65535)
    assert not is_late_audio(10, 11)
    assert not is_late_audio(500, 10)  # far behind: the stream restarted


def test_the_audio_level_is_read_from_one_and_two_byte_extension_blocks() -> None:
    one_byte = bytes([0x10, 0xAA, 0x00, 0x30, 0x85])  # id 1 (2 bytes), padding, id 3: 0x85
    assert audio_level(0xBEDE, one_byte, 0, len(one_byte), 3) == (True, 5)
    assert audio_level(0xBEDE, one_byte, 0, len(one_byte), 4) is None
    two_byte = bytes([1, 2]) + b"ab" + b"\x00" + bytes([3, 1, 0x05])
    assert audio_level(0x1000, two_byte, 0, len(two_byte), 3) == (False, 5)
    with pytest.raises(ValueError, match="truncated"):
        audio_level(0xBEDE, bytes([0x31]), 0, 1, 3)


def test_frames_caught_up_on_go_no_faster_than_twice_real_time() -> None:
    assert CATCH_UP_SPEED == 2.0
    pace = CatchUpPace(90000)
    assert pace.due(1000) == float("-inf")  # the first one at once
    pace.sent(1000, 50.0)
    assert pace.due(1000 + 3000) == pytest.approx(50.0 + 3000 / 90000 / 2)  # 1/30 s: 1/60 s
    pace.sent(4000, 50.02)  # sent a little late: the next one is due as planned
    assert pace.due(7000) == pytest.approx(50.0 + 2 / 60)
    pace.sent(7000, 51.0)  # very late (a stalled loop): no burst of all that waited since
    assert pace.due(10000) == pytest.approx(51.0 - CATCH_UP_MAX_LAG + 1 / 60)
    # Across the 32-bit wrap; an older or repeated timestamp waits for nothing; a pause in
    # the source waits CATCH_UP_MAX_GAP at most.
    pace.restart()
    pace.sent(0xFFFFFF00, 60.0)
    assert pace.due(0x100) == pytest.approx(60.0 + 0x200 / 90000 / 2)
    assert pace.due(0xFFFFFE00) == 60.0
    assert pace.due(0xFFFFFF00 + 90000 * 10) == 60.0 + CATCH_UP_MAX_GAP
    pace.restart()  # a new backlog: its first frame at once
    assert pace.due(5) == float("-inf")
    audio = CatchUpPace(48000)
    audio.sent(0, 0.0)
    assert audio.due(960) == pytest.approx(0.01)  # 20 ms of Opus: 10 ms
