#!/usr/bin/env python3
"""Visio (SFU) benchmark: Atelier's SFU against a MediaRelay baseline and Janus VideoRoom.

The same synthetic aiortc participants (bench/sfu/bots.py) join the same scenarios on each
server, on loopback only. Publishers send a pre-encoded 640x480 30 fps VP8 (~500 kbit/s) + Opus
file (bench/sfu/media.py, cached under bench/results/), so they never encode; subscribers count
complete encoded frames and never decode. The bots run on uvloop and take their SRTP straight
from the socket to aiortc's receivers (`sfu.receiving.FastReceive`, the SFU's own receive path), to
leave the server as much of the machine as they can. Per server and scenario the driver reports:

  forwarded video streams  received streams with frames in the window / expected streams
  server CPU               user+system seconds of the server's process tree over the window,
                           per second (cores) and per forwarded video stream (% of one core;
                           each video stream comes with its Opus stream)
  fps                      complete video frames received per second per stream (mean, min)
  loss                     frames short of 30 fps over the window (missing streams count as 0)
                           and RTP packets lost (sequence gaps, after NACK; RFC 3550's
                           count, negative when duplicates, such as a retransmission of a
                           packet that was only late, outnumber the packets never received)
  join-to-first-frame      from the subscriber sending its join (or, for a stream published
                           later, from the publisher getting its answer) to the first complete
                           video frame, p50/p99; and to the first keyframe (the file has one
                           per second and cannot make one on request)
  bots                     the bots' own CPU and event-loop lag, and the machine's CPU, to say
                           when the load generator, not the server, is the limit

Servers, each started fresh per scenario on free loopback ports:
  atelier  `atelier serve` (the SFU at /visio/{room}, ?token= from `atelier token`)
  atelier-mb  (only when asked) the same with aiortc's max-bundle policy forced
           (bench/sfu/max_bundle/): it showed that aiortc's default (balanced) policy stranded
           every video after the first in an offer adding several, fixed in the SFU by 19f94d2
  relay    bench/sfu/relay_server.py: aiortc MediaRelay, decode once + encode per subscriber
  janus    Debian's janus (1.1) VideoRoom over its WebSocket API, config from
           bench/sfu/janus/*.in, with an LD_PRELOAD shim so it gathers 127.0.0.1

Scenarios (publishers x subscribers; a meeting is everyone publishing and subscribing):
  1x4, 2x8, 4x12, meeting10 (10 people, 90 forwarded video streams), 20 s windows
  (~9 minutes); --quick: 1x4 and meeting10, 8 s windows (~2.5 minutes).
  --rounds N runs every scenario N times, the servers in alternating order, and ends with
  each ratio's median over the rounds: on a shared 2-core machine one run's CPU figures move
  by ±20 %, Janus's as much as Atelier's.

Exit status: 0 when the harness ran, whatever the numbers; 1 when it could not (a server did
not start, a bot process crashed or printed no result).

  .venv/bin/python bench/sfu_bench.py [--quick] [--servers atelier,relay,janus]
      [--scenarios 1x4,2x8,4x12,meeting10] [--window 20] [--no-keyframes]
      [--bot-rcvbuf BYTES] [--rounds N] [--json bench/results/sfu.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from harness import HarnessError, ServerProcess, free_port, logger, mint_atelier_token

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench" / "sfu"
RESULTS = ROOT / "bench" / "results"
PY = str(ROOT / ".venv" / "bin" / "python")
ATELIER = ROOT / ".venv" / "bin" / "atelier"
JANUS_LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")

sys.path.insert(0, str(HERE))
import media  # noqa: E402

NAMES = {
    "atelier": "Atelier",
    "atelier-mb": "Atelier max-bundle",
    "relay": "MediaRelay",
    "janus": "Janus",
}
FPS = 30
BOT_CPU_LIMIT = 0.85  # of one core, per bot process
LAG_LIMIT_MS = 50.0
NO_KEYFRAMES = False  # --no-keyframes: publishers ignore keyframe requests (file keyframes only)
BOT_RCVBUF = 0  # --bot-rcvbuf: UDP receive buffer the bots ask for (0: the kernel's default)


log = logger("sfu-bench")


def udp_rcvbuf_errors() -> int:
    """Datagrams the kernel dropped machine-wide because a socket's receive buffer was full."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        rows = [x.split() for x in Path("/proc/net/snmp").read_text().splitlines()]
        udp = [r for r in rows if r and r[0] == "Udp:"]
        return int(udp[1][udp[0].index("RcvbufErrors")])
    return 0


def udp_socket_drops() -> dict[int, int]:
    """Socket inode -> datagrams the kernel dropped for it (/proc/net/udp, last column)."""
    out: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            f = line.split()
            with contextlib.suppress(IndexError, ValueError):
                out[int(f[9])] = int(f[-1])
    return out


def socket_inodes(pids: list[int]) -> set[int]:
    inodes: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(int(link[8:-1]))
    return inodes


def drops_of(pids: list[int], before: dict[int, int], after: dict[int, int]) -> int:
    """UDP datagrams dropped over the window at the sockets these processes hold."""
    return sum(after[i] - before.get(i, 0) for i in socket_inodes(pids) if i in after)


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ------------------------------------------------------------------------------------ servers
@dataclass
class Server(ServerProcess):
    url: str
    token: str


def janus_shim() -> Path:
    """Build (once) the getifaddrs shim that lets Janus gather on lo."""
    src = HERE / "janus" / "loopback_ifaddrs.c"
    out = RESULTS / "sfu-janus" / "loopback_ifaddrs.so"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise HarnessError(
                "no C compiler to build the Janus loopback shim (apt-get install gcc)"
            )
        subprocess.run(
            [cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(src), "-ldl"], check=True
        )
    return out


def atelier_env(tmpdir: Path, participants: int) -> dict[str, str]:
    """Settings for a loopback-only SFU that forwards every video (last-N >= participants)."""
    env = dict(os.environ)
    env["ATELIER_DATA_DIR"] = str(tmpdir / "data")
    n = str(max(participants, 10))
    env.update(
        {
            "ATELIER_VISIO_HOST_ADDRESSES": "127.0.0.1",
            "ATELIER_VISIO_ICE_SERVERS": "",
            "ATELIER_VISIO_PUBLIC_ADDRESS": "",
            "ATELIER_VISIO_LAST_N": n,
            "ATELIER_VISIO_MAX_PARTICIPANTS": str(max(participants, 50)),
        }
    )
    return env


def start_server(kind: str, participants: int, timeout: float = 40.0) -> Server:
    tmpdir = Path(tempfile.mkdtemp(prefix=f"sfu-bench-{kind}-"))
    logfile = tmpdir / "server.log"
    env = dict(os.environ)
    token = ""
    port = free_port()
    if kind in ("atelier", "atelier-mb"):
        if not ATELIER.exists():
            raise HarnessError(f"{ATELIER} does not exist (pip install -e . in .venv)")
        env = atelier_env(tmpdir, participants)
        if kind == "atelier-mb":
            env["PYTHONPATH"] = str(HERE / "max_bundle")
        cmd = [str(ATELIER), "serve", "--host", "127.0.0.1", "--port", str(port)]
        url = f"ws://127.0.0.1:{port}/visio"
    elif kind == "relay":
        cmd = [PY, str(HERE / "relay_server.py"), "--port", str(port)]
        url = f"ws://127.0.0.1:{port}/visio"
    elif kind == "janus":
        if shutil.which("janus") is None:
            raise HarnessError("janus is not installed (make bench-sfu installs it as root)")
        env["LD_PRELOAD"] = str(janus_shim())
        rtp = 20000 + (port % 200) * 200
        subs = {
            "@CONFIGS@": str(tmpdir),
            "@WS_PORT@": str(port),
            "@RTP_MIN@": str(rtp),
            "@RTP_MAX@": str(rtp + 199),
        }
        for tpl in (HERE / "janus").glob("*.jcfg.in"):
            text = tpl.read_text()
            for k, v in subs.items():
                text = text.replace(k, v)
            (tmpdir / tpl.name[: -len(".in")]).write_text(text)
        cmd = ["janus", "-C", str(tmpdir / "janus.jcfg"), "-F", str(tmpdir), "-o"]
        url = f"ws://127.0.0.1:{port}"
    else:
        raise ValueError(kind)
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(kind, proc, tmpdir, logfile, url, token)
    deadline = time.monotonic() + timeout
    while not tcp_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
            tail = server.log_tail()
            server.stop()
            raise HarnessError(f"{kind} did not start ({why}); log tail:\n{tail}")
        time.sleep(0.05)
    if kind.startswith("atelier"):
        try:
            server.token = mint_atelier_token([str(ATELIER)], ROOT, env, "visio-")
        except HarnessError:
            server.stop()
            raise
    return server


# ------------------------------------------------------------------------------------ scenarios
@dataclass(frozen=True)
class Scenario:
    name: str
    publishers: int
    subscribers: int  # subscribe-only participants
    meeting: bool = False  # everyone publishes and subscribes to everyone else

    @property
    def participants(self) -> int:
        return self.publishers + (0 if self.meeting else self.subscribers)

    @property
    def expected_video(self) -> int:
        if self.meeting:
            return self.publishers * (self.publishers - 1)
        return self.publishers * self.subscribers


SCENARIOS = {
    "1x4": Scenario("1x4", 1, 4),
    "2x8": Scenario("2x8", 2, 8),
    "4x12": Scenario("4x12", 4, 12),
    "meeting10": Scenario("meeting10", 10, 0, meeting=True),
}


def plan_participants(sc: Scenario, t0: float, kind: str) -> tuple[list[dict[str, Any]], float]:
    """Who joins when; returns the participants and when the last one has joined."""
    people: list[dict[str, Any]] = []
    if sc.meeting:
        gap = 0.3
        for i in range(sc.publishers):
            people.append(
                {"name": f"m{i}", "publish": True, "subscribe": True, "join_at": t0 + i * gap}
            )
        last = t0 + sc.publishers * gap + 1.5
        # Janus bots subscribe once everyone has published (one subscription per participant);
        # on Atelier and the relay the server offers streams as they are published.
        for p in people:
            p["subscribe_at"] = last
        return people, last
    for i in range(sc.publishers):
        people.append({"name": f"pub{i}", "publish": True, "subscribe": False, "join_at": t0})
    t_sub = t0 + 2.5
    for i in range(sc.subscribers):
        people.append(
            {"name": f"sub{i}", "publish": False, "subscribe": True, "join_at": t_sub + 0.05 * i}
        )
    return people, t_sub + 0.05 * sc.subscribers


def run_scenario(kind: str, sc: Scenario, window_s: float, settle: float) -> dict[str, Any]:
    server = start_server(kind, sc.participants)
    plans_dir = Path(tempfile.mkdtemp(prefix="sfu-bench-plan-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        time.sleep(0.5)
        t0 = time.time() + 2.5  # bot processes import aiortc first
        people, joined_by = plan_participants(sc, t0, kind)
        w0 = joined_by + settle
        window = (w0, w0 + window_s)
        nproc = 1 if len(people) <= 6 else 2
        room: str | int = f"meet-bench-{sc.name}" if kind != "janus" else 4000 + len(sc.name)
        for k in range(nproc):
            plan = {
                "server": kind,
                "url": server.url,
                "token": server.token,
                "room": room,
                "media": str(media.DEFAULT),
                "keys": None if NO_KEYFRAMES else str(media.KEYS),
                "rcvbuf": BOT_RCVBUF,
                "participants": people[k::nproc],
                "window": list(window),
                "stop_at": window[1],
            }
            path = plans_dir / f"plan{k}.json"
            path.write_text(json.dumps(plan))
            errf = (plans_dir / f"bot{k}.log").open("w")
            procs.append(
                subprocess.Popen(
                    [PY, str(HERE / "bots.py"), str(path)],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=errf,
                    text=True,
                )
            )
        time.sleep(max(0.0, window[0] - time.time()))
        s0 = server.cpu_seconds()
        m0 = psutil.cpu_times()
        u0 = udp_rcvbuf_errors()
        d0 = udp_socket_drops()
        rss0 = server.rss()
        time.sleep(max(0.0, window[1] - time.time()))
        s1 = server.cpu_seconds()
        m1 = psutil.cpu_times()
        u1 = udp_rcvbuf_errors()
        d1 = udp_socket_drops()
        server_drops = drops_of([p.pid for p in server.tree()], d0, d1)
        bot_drops = drops_of([p.pid for p in procs], d0, d1)
        rss1 = server.rss()
        bots = []
        for k, p in enumerate(procs):
            try:
                line = p.stdout.readline() if p.stdout else ""  # printed before teardown
            except Exception:
                line = ""
            if not line.strip():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(20)
                tail = (plans_dir / f"bot{k}.log").read_text(errors="replace")[-2000:]
                raise HarnessError(f"bot process {k} printed no result; log tail:\n{tail}")
            bots.append(json.loads(line))
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        busy = (sum(m1) - m1.idle - m1.iowait) - (sum(m0) - m0.idle - m0.iowait)
        total = sum(m1) - sum(m0)
        result = summarise(kind, sc, window_s, bots, s1 - s0)
        result["machine_busy"] = busy / total if total > 0 else None
        # CPU used by everything else on the machine (other users' jobs) over the window
        ncpu = os.cpu_count() or 1
        result["other_cores"] = (
            busy / total * ncpu - result["server_cores"] - sum(result["bot_cores"])
            if total > 0
            else None
        )
        result["server_rss_mb"] = max(rss0, rss1) / 1e6
        result["udp_drops"] = u1 - u0
        result["udp_drops_server"] = server_drops
        result["udp_drops_bots"] = bot_drops
        if kind != "janus" and result["video_streams"] == 0:
            result["server_log"] = server.log_tail(15)
        return result
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        server.stop()
        shutil.rmtree(plans_dir, ignore_errors=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))]


def summarise(
    kind: str, sc: Scenario, window_s: float, bots: list[dict[str, Any]], server_cpu: float
) -> dict[str, Any]:
    published: dict[str, float] = {}
    for b in bots:
        published.update(b["published"])
    video = [s for b in bots for s in b["streams"] if s["kind"] == "video"]
    audio = [s for b in bots for s in b["streams"] if s["kind"] == "audio"]
    flowing = [s for s in video if s["frames"] > 0]
    per_sub: dict[str, int] = {}
    for s in flowing:
        per_sub[s["subscriber"]] = per_sub.get(s["subscriber"], 0) + 1
    n = len(flowing)
    frames = sum(s["frames"] for s in video)
    expected_frames = FPS * window_s * sc.expected_video
    j2ff, j2key = [], []
    slowest: list[dict[str, Any]] = []
    for s in video:
        t0 = s["t_join"]
        pub = s.get("publisher")
        if pub and pub in published:
            t0 = max(t0, published[pub])
        if s["first_frame"] is not None:
            j2ff.append(s["first_frame"] - t0)
            # where a slow first frame waited: for the offer carrying it, then for media
            slowest.append(
                {
                    "subscriber": s["subscriber"],
                    "publisher": pub,
                    "from": "publish" if t0 > s["t_join"] else "join",
                    "j2ff_ms": round(1000 * (s["first_frame"] - t0)),
                    "offer_ms": round(1000 * (s["t_announced"] - t0)),
                }
            )
        if s["first_key"] is not None:
            j2key.append(s["first_key"] - t0)
    rtp_lost = sum(s["rtp_lost"] for s in video)
    rtp_rcvd = sum(s["rtp_received"] for s in video)
    fps = [s["frames"] / window_s for s in video] + [0.0] * max(0, sc.expected_video - len(video))
    bot_cpu = [b["cpu_seconds"] / window_s for b in bots]
    lags = [b["lag_p99_ms"] for b in bots if b["lag_p99_ms"] is not None]
    errors = [e for b in bots for e in b["errors"]]
    saturated = any(c > BOT_CPU_LIMIT for c in bot_cpu) or any(x > LAG_LIMIT_MS for x in lags)
    return {
        "server": kind,
        "scenario": sc.name,
        "expected_video": sc.expected_video,
        "video_streams": n,
        "audio_streams": sum(1 for s in audio if s["frames"] > 0),
        "server_cpu_s": server_cpu,
        "server_cores": server_cpu / window_s,
        "core_pct_per_stream": 100 * server_cpu / window_s / n if n else None,
        "fps_mean": sum(fps) / len(fps) if fps else 0.0,
        # CPU per stream delivered at full rate: a server that cannot keep up looks cheap per
        # stream while it delivers few frames; this divides by streams x (fps / 30) instead
        "core_pct_per_full_stream": (
            100 * server_cpu / window_s / (frames / window_s / FPS) if frames else None
        ),
        "fps_min": min(fps) if fps else 0.0,
        "frame_loss": max(0.0, 1 - frames / expected_frames) if expected_frames else None,
        "rtp_loss": rtp_lost / (rtp_lost + rtp_rcvd) if rtp_rcvd else None,
        # RTP packets received per complete video frame over each stream's life (RTX included):
        # the same file gives the same figure through any forwarding server that adds nothing
        "video_packets_per_frame": (
            rtp_rcvd / total_frames
            if (total_frames := sum(s.get("frames_total", 0) for s in video))
            else None
        ),
        "j2ff_p50_ms": 1000 * p if (p := pct(j2ff, 0.5)) is not None else None,
        "j2ff_p99_ms": 1000 * p if (p := pct(j2ff, 0.99)) is not None else None,
        "j2key_p50_ms": 1000 * p if (p := pct(j2key, 0.5)) is not None else None,
        "j2key_p99_ms": 1000 * p if (p := pct(j2key, 0.99)) is not None else None,
        "no_first_frame": sc.expected_video - len(j2ff),
        "j2ff_slowest": sorted(slowest, key=lambda x: -x["j2ff_ms"])[:5],
        "bot_procs": len(bots),
        "bot_cores": bot_cpu,
        "bot_lag_p99_ms": max(lags) if lags else None,
        "bots_saturated": saturated,
        "errors": errors[:10],
        "video_per_subscriber": {
            sub: [len([s for s in video if s["subscriber"] == sub]), per_sub.get(sub, 0)]
            for sub in sorted({s["subscriber"] for s in video})
        },
        "keyframe_requests": sum(b.get("keyframe_requests", 0) for b in bots),
        "subscribe_offers": sum(b.get("offers", 0) for b in bots),
        "subscribe_offers_in_window": sum(b.get("offers_in_window", 0) for b in bots),
        "offer_answer_max_s": max(
            (b["offer_answer_max_s"] for b in bots if b.get("offer_answer_max_s") is not None),
            default=None,
        ),
        "keyframes_served": sum(b.get("keyframes_served", 0) for b in bots),
        "window_s": window_s,
    }


# ------------------------------------------------------------------------------------ report
def fmt(v: Any, spec: str = ".0f", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def report(results: list[dict[str, Any]], servers: list[str], scenarios: list[str]) -> str:
    lines = []
    head = (
        "| server | video fwd/exp | server cores | % core/stream (per 30 fps stream) "
        "| fps mean/min | frame loss "
        "| RTP loss | join→frame p50/p99 ms | join→keyframe p50/p99 ms | PLI/FIR at publishers "
        "| kernel UDP drops: all (server, bots) | bots cores (lag p99) "
        "| machine busy (others) |"
    )
    for scn in scenarios:
        sc = SCENARIOS[scn]
        lines.append(
            f"\n{scn}: {sc.publishers} publishers"
            + (
                " all subscribing to each other"
                if sc.meeting
                else f" x {sc.subscribers} subscribers"
            )
            + f", {sc.expected_video} video streams to forward"
        )
        lines.append(head)
        lines.append("|" + "---|" * 13)
        for kind in servers:
            r = next((x for x in results if x["server"] == kind and x["scenario"] == scn), None)
            if r is None:
                continue
            if "failed" in r:
                last = r["failed"].strip().splitlines()[-1][:150]
                lines.append(f"| {NAMES[kind]} | failed: {last} |" + " |" * 11)
                continue
            bots = "+".join(f"{c:.2f}" for c in r["bot_cores"])
            flag = " SATURATED" if r["bots_saturated"] else ""
            lines.append(
                f"| {NAMES[kind]} | {r['video_streams']}/{r['expected_video']} "
                f"| {r['server_cores']:.2f} | {fmt(r['core_pct_per_stream'], '.2f')} "
                f"({fmt(r.get('core_pct_per_full_stream'), '.2f')}) "
                f"| {r['fps_mean']:.1f}/{r['fps_min']:.1f} | {fmt(100 * r['frame_loss'], '.1f')}% "
                f"| {fmt(None if r['rtp_loss'] is None else 100 * r['rtp_loss'], '.2f')}% "
                f"| {fmt(r['j2ff_p50_ms'])}/{fmt(r['j2ff_p99_ms'])} "
                f"| {fmt(r['j2key_p50_ms'])}/{fmt(r['j2key_p99_ms'])} "
                f"| {r.get('keyframe_requests', 0)} "
                f"| {r.get('udp_drops', '-')} ({r.get('udp_drops_server', '-')}, "
                f"{r.get('udp_drops_bots', '-')}) "
                f"| {bots} ({fmt(r['bot_lag_p99_ms'])} ms){flag} "
                f"| {fmt(None if r.get('machine_busy') is None else 100 * r['machine_busy'])}% "
                f"({fmt(r.get('other_cores'), '.2f')} cores) |"
            )
            if r["errors"]:
                lines.append(f"|   errors: {'; '.join(r['errors'][:3])[:300]} |")
        for mine in ("atelier", "atelier-mb"):
            at = next((x for x in results if x["server"] == mine and x["scenario"] == scn), None)
            for peer in ("janus", "relay"):
                other = next(
                    (x for x in results if x["server"] == peer and x["scenario"] == scn), None
                )
                if not at or not other or "failed" in at or "failed" in other:
                    continue
                cpu = cpu_ratio(results, scn, mine, peer)
                ratio_cpu = f"{cpu:.2f}" if cpu else "-"
                a3 = at.get("core_pct_per_full_stream")
                b3 = other.get("core_pct_per_full_stream")
                ratio_full = f"{a3 / b3:.2f}" if a3 and b3 else "-"
                a2, b2 = at.get("j2ff_p99_ms"), other.get("j2ff_p99_ms")
                ratio_j = f"{a2 / b2:.2f}" if a2 and b2 else "-"
                lines.append(
                    f"{NAMES[mine]}/{NAMES[peer]}: CPU per forwarded stream {ratio_cpu} "
                    f"(per 30 fps stream {ratio_full}), "
                    f"join-to-first-frame p99 {ratio_j}"
                )
    return "\n".join(lines)


def cpu_ratio(results: list[dict[str, Any]], scn: str, mine: str, peer: str) -> float | None:
    """`mine`'s CPU per forwarded stream over `peer`'s, for one scenario of one round."""
    at = next((x for x in results if x["server"] == mine and x["scenario"] == scn), None)
    other = next((x for x in results if x["server"] == peer and x["scenario"] == scn), None)
    if not at or not other or "failed" in at or "failed" in other:
        return None
    a, b = at.get("core_pct_per_stream"), other.get("core_pct_per_stream")
    return a / b if a and b else None


def median_report(results: list[dict[str, Any]], servers: list[str], scenarios: list[str]) -> str:
    """Per scenario, Atelier's CPU per forwarded stream over each peer's: every round's ratio
    and their median; and each server's cores, median over the rounds."""
    rounds = sorted({r.get("round", 1) for r in results})
    lines = [f"\nMedians over {len(rounds)} rounds (servers in alternating order):"]
    for scn in scenarios:
        cores = []
        for kind in servers:
            values = [
                r["server_cores"]
                for r in results
                if r["server"] == kind and r["scenario"] == scn and "failed" not in r
            ]
            if values:
                cores.append(f"{NAMES[kind]} {statistics.median(values):.3f}")
        lines.append(f"{scn}: server cores, median: " + ", ".join(cores))
        for mine in ("atelier", "atelier-mb"):
            for peer in ("janus", "relay"):
                if mine not in servers or peer not in servers:
                    continue
                per_round = [
                    cpu_ratio([r for r in results if r.get("round", 1) == n], scn, mine, peer)
                    for n in rounds
                ]
                values = [v for v in per_round if v is not None]
                if not values:
                    continue
                listed = ", ".join("-" if v is None else f"{v:.2f}" for v in per_round)
                lines.append(
                    f"  {NAMES[mine]}/{NAMES[peer]}: CPU per forwarded stream median "
                    f"{statistics.median(values):.2f} (rounds: {listed})"
                )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    janus = ""
    with contextlib.suppress(Exception):
        out = subprocess.run(["janus", "--version"], capture_output=True, text=True, timeout=10)
        janus = next((x for x in out.stdout.splitlines() if "version" in x.lower()), "")
    import aiortc

    commit = dirty = ""
    with contextlib.suppress(Exception):
        git = ["git", "-C", str(ROOT)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "sfu", "web"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    return {
        "commit": commit,
        "sfu_or_web_modified": bool(dirty),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
        "janus": janus,
        "load_before": os.getloadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--servers", default=None, help="default: atelier,relay,janus")
    ap.add_argument("--scenarios", default=None)
    ap.add_argument("--window", type=float, default=None, help="measured seconds per run")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--no-keyframes",
        action="store_true",
        help="publishers ignore PLI/FIR (new subscribers wait for the file's keyframes)",
    )
    ap.add_argument(
        "--bot-rcvbuf",
        type=int,
        default=0,
        help="UDP receive buffer (bytes) for the bots' sockets; default: the kernel's",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run everything N times, servers in alternating order; report median ratios",
    )
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    global NO_KEYFRAMES, BOT_RCVBUF
    NO_KEYFRAMES = args.no_keyframes
    BOT_RCVBUF = args.bot_rcvbuf
    servers = [s for s in (args.servers or "atelier,relay,janus").split(",") if s]
    for s in servers:
        if s not in NAMES:
            ap.error(f"unknown server {s!r}")
    default_sc = "1x4,meeting10" if args.quick else "1x4,2x8,4x12,meeting10"
    scenarios = (args.scenarios or default_sc).split(",")
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}")
    window_s = args.window or (8.0 if args.quick else 20.0)
    settle = 3.0 if args.quick else 5.0

    started = time.monotonic()
    media.ensure(keys=not NO_KEYFRAMES)  # --no-keyframes needs no keyframe-only file
    info = media.describe(media.DEFAULT)
    log(
        f"media: {media.DEFAULT.name}, {info['seconds']:.0f} s, "
        f"{info['video_kbit_s']:.0f} kbit/s VP8, {info['keyframes']} keyframes"
    )
    mach = machine()
    results: list[dict[str, Any]] = []
    harness_failed = False
    plan = [
        (n, scn, kind)
        for n in range(1, args.rounds + 1)
        for scn in scenarios
        for kind in (servers if n % 2 else list(reversed(servers)))
    ]
    for n, scn, kind in plan:
        log(f"{NAMES[kind]} / {scn}" + (f" (round {n})" if args.rounds > 1 else "") + " ...")
        try:
            r = run_scenario(kind, SCENARIOS[scn], window_s, settle)
        except HarnessError as exc:
            log(f"harness failure: {exc}")
            harness_failed = True
            results.append({"server": kind, "scenario": scn, "failed": str(exc), "round": n})
            continue
        r["round"] = n
        results.append(r)
        log(
            f"  {r['video_streams']}/{r['expected_video']} video streams, server "
            f"{r['server_cores']:.2f} cores, fps {r['fps_mean']:.1f}, "
            f"join→frame p99 {fmt(r['j2ff_p99_ms'])} ms"
            + (" (bots saturated)" if r["bots_saturated"] else "")
        )
        if r.get("j2ff_slowest"):
            log(
                "  slowest first frames (ms from join/publish: offer seen, frame): "
                + ", ".join(
                    f"{x['publisher']}→{x['subscriber']} ({x['from']}) "
                    f"{x['offer_ms']}/{x['j2ff_ms']}"
                    for x in r["j2ff_slowest"][:3]
                )
            )
    if args.rounds == 1:
        text = report(results, servers, scenarios)
    else:
        text = (
            "\n".join(
                f"\n#### Round {n} of {args.rounds}\n"
                + report([r for r in results if r["round"] == n], servers, scenarios)
                for n in range(1, args.rounds + 1)
            )
            + "\n"
            + median_report(results, servers, scenarios)
        )
    elapsed = time.monotonic() - started
    header = (
        f"Visio SFU benchmark ({'quick' if args.quick else 'full'}, {window_s:.0f} s windows, "
        f"{elapsed:.0f} s in all) on {mach['cpus']} CPUs ({mach['cpu_model']}), "
        f"aiortc {mach['aiortc']}, {mach['janus'].strip()}; Atelier at {mach['commit']}"
        f"{' + uncommitted sfu/web changes' if mach['sfu_or_web_modified'] else ''}; "
        f"load average before "
        f"{mach['load_before'][0]:.1f}"
    )
    print(header)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": mach,
                    "args": vars(args) | {"json": str(args.json)},
                    "results": results,
                    "report": header + "\n" + text,
                },
                indent=1,
            )
        )
    return 1 if harness_failed else 0


if __name__ == "__main__":
    sys.exit(main())
