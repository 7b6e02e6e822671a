"""The pre-encoded media the bots publish: 640x480 30 fps VP8 (~500 kbit/s) + Opus, in WebM.

Generated once with PyAV (a moving test pattern and a tone) and cached under bench/results/.
The file is longer than the longest run: aiortc's `MediaPlayer(decode=False, loop=True)` restarts
packet timestamps at 0 on each loop and then sends as fast as it can, so bots never loop.

  .venv/bin/python bench/sfu/media.py [--seconds 120] [--out bench/results/sfu-media.webm]
"""

from __future__ import annotations

import argparse
import array
import fractions
import math
import random
import sys
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "bench" / "results" / "sfu-media-120s.webm"
# The same pictures with every frame a keyframe: publishers answer a keyframe request (PLI/FIR)
# by sending the next frame from this file instead, as an encoder would (bench/sfu/bots.py).
KEYS = ROOT / "bench" / "results" / "sfu-media-120s-keys.webm"
KEYS_BITRATE = 1_000_000  # ~4 KB per keyframe, as the keyframes of the main file
WIDTH, HEIGHT, FPS = 640, 480, 30
BITRATE = 500_000
GOP = 30  # a keyframe every second


def generate(path: Path, seconds: float, gop: int = GOP, bitrate: int = BITRATE) -> None:
    tmp = path.with_suffix(".tmp.webm")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = av.open(str(tmp), "w", format="webm")
    v = out.add_stream("libvpx", rate=FPS)
    v.width, v.height, v.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    v.bit_rate = bitrate
    v.gop_size = gop
    v.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "b": str(bitrate),
        "lag-in-frames": "0",
        "error-resilient": "1",
        "keyint_min": str(gop),
    }
    a = out.add_stream("libopus", rate=48000)
    a.layout = "mono"
    a.bit_rate = 32_000

    rng = random.Random(4)
    # textured background (coarse noise upscaled) so that motion costs bits
    tex = []
    for _ in range(HEIGHT // 16):
        row = bytes(b for b in rng.randbytes(WIDTH // 8) for _ in range(16))  # 2 x WIDTH
        tex.extend([row] * 16)
    invert = bytes(255 - b for b in range(256))
    frames = int(seconds * FPS)
    samples_per_frame = 48000 // FPS  # 1600
    # 480 Hz: exactly 100 samples per period, so every audio frame is the same
    tone = array.array(
        "h", (int(6000 * math.sin(2 * math.pi * 480 * n / 48000)) for n in range(samples_per_frame))
    ).tobytes()
    for i in range(frames):
        shift = (i * 4) % WIDTH
        rows = [r[shift : shift + WIDTH] for r in tex]
        box = (i * 7) % (WIDTH - 96)
        for r in range(180, 276):
            row = rows[r]
            rows[r] = row[:box] + row[box : box + 96].translate(invert) + row[box + 96 :]
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(b"".join(rows))
        frame.planes[1].update(bytes([(i * 3) % 256]) * (WIDTH * HEIGHT // 4))
        frame.planes[2].update(b"\x80" * (WIDTH * HEIGHT // 4))
        frame.pts = i
        frame.time_base = fractions.Fraction(1, FPS)
        for p in v.encode(frame):
            out.mux(p)
        af = av.AudioFrame(format="s16", layout="mono", samples=samples_per_frame)
        af.planes[0].update(tone)
        af.sample_rate = 48000
        af.pts = i * samples_per_frame
        af.time_base = fractions.Fraction(1, 48000)
        for p in a.encode(af):
            out.mux(p)
    for p in v.encode(None):
        out.mux(p)
    for p in a.encode(None):
        out.mux(p)
    out.close()
    tmp.rename(path)


def describe(path: Path) -> dict[str, float]:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        size = keys = n = 0
        last = 0.0
        for pkt in c.demux(vs):
            if pkt.size == 0:
                continue
            n += 1
            size += pkt.size
            keys += int(pkt.is_keyframe)
            last = float(pkt.pts * pkt.time_base)
    return {
        "seconds": last,
        "video_frames": n,
        "video_kbit_s": size * 8 / max(last, 1e-9) / 1000,
        "keyframes": keys,
    }


def ensure(path: Path = DEFAULT, seconds: float = 120.0, keys: bool = True) -> Path:
    """Generate the media file (and, with `keys`, the keyframe-only one) when missing."""
    wanted = ((path, GOP, BITRATE), (KEYS, 1, KEYS_BITRATE)) if keys else ((path, GOP, BITRATE),)
    for target, gop, rate in wanted:
        if not target.exists():
            t0 = time.monotonic()
            print(f"[sfu-bench] generating {target} ({seconds:.0f} s)", file=sys.stderr, flush=True)
            generate(target, seconds, gop, rate)
            print(f"[sfu-bench] generated in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--out", type=Path, default=DEFAULT)
    args = ap.parse_args()
    ensure(args.out, args.seconds)
    print(describe(args.out), describe(KEYS))


if __name__ == "__main__":
    main()
