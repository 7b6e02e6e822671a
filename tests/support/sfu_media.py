"""Small media files generated at test time with PyAV: VP8 (+ Opus) from FFmpeg's test sources;
and what a viewer sees of them: the decoded pictures, each as a digest of its pixels."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import av
from av.video.frame import PictureType


def write_test_video(
    path: Path,
    *,
    seconds: float = 3.0,
    size: str = "320x240",
    rate: int = 30,
    gop: int = 15,
    bitrate: int = 300_000,
    audio: bool = False,
) -> Path:
    """Encode a test pattern to VP8 (and a 440 Hz tone to Opus) in a WebM file."""
    width, height = (int(v) for v in size.split("x"))
    out = av.open(str(path), mode="w", format="webm")
    video = out.add_stream("libvpx", rate=rate)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.bit_rate = bitrate
    video.gop_size = gop
    # "good" with one thread, not "realtime": realtime encoding adapts to how busy the machine
    # is, and tests need the same file every time.
    video.options = {"deadline": "good", "cpu-used": "8", "lag-in-frames": "0", "threads": "1"}
    opus = out.add_stream("libopus", rate=48000) if audio else None
    if opus is not None:
        opus.layout = "mono"
    source = av.open(f"testsrc=size={size}:rate={rate}:duration={seconds}", format="lavfi")
    for frame in source.decode(video=0):
        picture = frame.reformat(format="yuv420p")
        picture.pict_type = PictureType.NONE  # lavfi marks every frame I: let the GOP decide
        out.mux(video.encode(picture))
    out.mux(video.encode(None))
    source.close()
    if opus is not None:
        tone = av.open(f"sine=frequency=440:duration={seconds}:sample_rate=48000", format="lavfi")
        for chunk in tone.decode(audio=0):
            out.mux(opus.encode(chunk))
        out.mux(opus.encode(None))
        tone.close()
    out.close()
    return path


def video_packets(path: Path) -> list[bytes]:
    """The encoded VP8 frames of a file, in order, as the publisher sends them."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def picture_digest(frame: av.VideoFrame) -> str:
    """A digest of a decoded picture's pixels (YUV 4:2:0, without the rows' padding): equal
    for two pictures exactly when they look the same."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    digest = hashlib.sha256()
    for plane in frame.planes:
        data = bytes(plane)
        for row in range(plane.height):
            start = row * plane.line_size
            digest.update(data[start : start + plane.width])
    return digest.hexdigest()


@dataclass(frozen=True)
class Pictures:
    """The pictures of a file's video as a viewer decodes them, and which are keyframes."""

    digests: list[str]
    keyframes: frozenset[int]

    def start_of(self, seen: list[str]) -> int:
        """Where in the file the pictures `seen` begin: they must follow on from there, one
        for one, with nothing lost, repeated or altered."""
        assert seen, "no picture seen"
        assert seen[0] in self.digests, "the first picture seen is not one of the file's"
        start = self.digests.index(seen[0])
        assert seen == self.digests[start : start + len(seen)], "the pictures differ"
        return start


def decoded_pictures(path: Path, **options: str) -> Pictures:
    """Decode a file's video (VP8 in WebM, H.264 in MPEG-TS, ...) as a viewer would."""
    digests: list[str] = []
    keyframes: set[int] = set()
    with av.open(str(path), **options) as container:  # type: ignore[call-overload]
        for frame in container.decode(video=0):
            if frame.key_frame:
                keyframes.add(len(digests))
            digests.append(picture_digest(frame))
    return Pictures(digests, frozenset(keyframes))


def write_test_h264(path: Path, *, seconds: float = 4.0, rate: int = 30, gop: int = 30) -> Path:
    """Encode a test pattern to H.264 (constrained baseline, Annex B) in an MPEG-TS file."""
    out = av.open(str(path), mode="w", format="mpegts")
    video = out.add_stream("libx264", rate=rate)
    video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
    video.options = {"profile": "baseline", "tune": "zerolatency", "g": str(gop), "bf": "0"}
    source = av.open(f"testsrc=size=320x240:rate={rate}:duration={seconds}", format="lavfi")
    for frame in source.decode(video=0):
        picture = frame.reformat(format="yuv420p")
        picture.pict_type = PictureType.NONE
        out.mux(video.encode(picture))
    out.mux(video.encode(None))
    source.close()
    out.close()
    return path


def nal_units(frame: bytes) -> list[bytes]:
    """The NAL units of an Annex B frame (start codes are 3 or 4 bytes; RTP keeps the units)."""
    return [unit for unit in re.split(b"\x00\x00\x00\x01|\x00\x00\x01", frame) if unit]
