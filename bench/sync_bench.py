#!/usr/bin/env python3
"""Sync-engine benchmark: Atelier against @y/websocket-server and Hocuspocus.

For each server and each load point the driver starts the server fresh on a free loopback port,
waits until it answers HTTP, runs the load generator (bench/sync/loadgen.mjs: many Yjs clients
in one node process), samples the server's CPU seconds (user+system of its process tree, over
the send phase) and peak RSS (polled every 100 ms), stops the server and prints one table per
load point, with the Atelier / best-peer ratios for p99 latency and server CPU seconds.

Load points (full run, ~10 minutes on 2 cores):
  fixed     50 docs x 4 clients x 2 updates/s, 10 x 20 x 2, 200 x 2 x 1 (20 s each)
  search    20 docs x 5 clients, rate per client 2, 5, 10, 20, 40, 80, 160, 320 (10 s each):
            the highest rate with p99 < 100 ms, no loss and every document converged
            (a failing step is run a second time before the search stops)
  conns     1,000 docs x 2 clients = 2,000 connections, 1 update/s per document (20 s):
            p99 and server RSS per document ((peak RSS - idle RSS) / documents)
--quick runs shorter and fewer points (~1.5 minutes).

The generator measures its own CPU, event-loop delay and send lag; a point where it saturated
is flagged: its latencies include the generator's queueing, not only the server's.

Exit status: 0 when every server started and every generator run produced a result, whatever
the numbers; 1 on a harness failure (a server not starting, a generator crash).

  .venv/bin/python bench/sync_bench.py [--quick] [--servers atelier,ywss,hocuspocus]
                                       [--json out.json] [--procs N] [--points fixed,search,conns]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from harness import HarnessError, ServerProcess, free_port, logger, mint_atelier_token

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "bench" / "sync" / "loadgen.mjs"
HOCUSPOCUS = ROOT / "bench" / "sync" / "hocuspocus_server.mjs"
YWSS = ROOT / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"
ATELIER = ROOT / ".venv" / "bin" / "atelier"
NODE = shutil.which("node") or "node"

SERVER_NAMES = {"atelier": "Atelier", "ywss": "y-websocket-server", "hocuspocus": "Hocuspocus"}
P99_TARGET_MS = 100.0
NO_DEFLATE = False  # --no-deflate: clients do not offer permessage-deflate


log = logger("sync-bench")


# ------------------------------------------------------------------------------------ servers
@dataclass
class Server(ServerProcess):
    port: int
    url: str
    protocol: str
    token: str


def atelier_cmd() -> list[str]:
    """`.venv/bin/atelier`; before `pip install -e .` made it, the same CLI as a module."""
    if ATELIER.exists():
        return [str(ATELIER)]
    python = ROOT / ".venv" / "bin" / "python"
    if python.exists() and (ROOT / "web" / "cli.py").exists():
        return [str(python), "-m", "web.cli"]
    raise HarnessError(f"{ATELIER} does not exist (is Atelier installed in .venv?)")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_server(kind: str, timeout: float = 30.0) -> Server:
    port = free_port()
    tmpdir = Path(tempfile.mkdtemp(prefix=f"sync-bench-{kind}-"))
    logfile = tmpdir / "server.log"
    env = dict(os.environ)
    token = ""
    if kind == "atelier":
        env["ATELIER_DATA_DIR"] = str(tmpdir / "data")
        cmd = [*atelier_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        probe = f"http://127.0.0.1:{port}/healthz"
        url, protocol = f"ws://127.0.0.1:{port}/sync", "y-websocket"
    elif kind == "ywss":
        env.update(HOST="127.0.0.1", PORT=str(port))
        cmd = [NODE, str(YWSS)]
        probe = f"http://127.0.0.1:{port}/"
        url, protocol = f"ws://127.0.0.1:{port}", "y-websocket"
    elif kind == "hocuspocus":
        env.update(HOST="127.0.0.1", PORT=str(port))
        cmd = [NODE, str(HOCUSPOCUS)]
        probe = f"http://127.0.0.1:{port}/"
        url, protocol = f"ws://127.0.0.1:{port}", "hocuspocus"
    else:
        raise ValueError(kind)
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(kind, proc, tmpdir, logfile, port, url, protocol, token)
    deadline = time.monotonic() + timeout
    while not http_ok(probe):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
            tail = server.log_tail()
            server.stop()
            raise HarnessError(f"{kind} did not become ready ({why}); log tail:\n{tail}")
        time.sleep(0.05)
    if kind == "atelier":
        try:
            server.token = mint_atelier_token(atelier_cmd(), ROOT, env, "bench-")
        except HarnessError:
            server.stop()
            raise
    return server


class RssSampler(threading.Thread):
    def __init__(self, server: Server, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.server.rss())
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, self.server.rss())
        return self.peak


# ------------------------------------------------------------------------------------ generator
@dataclass
class Gen:
    proc: subprocess.Popen[str]
    ready: threading.Event = field(default_factory=threading.Event)
    sent: threading.Event = field(default_factory=threading.Event)
    stderr_tail: list[str] = field(default_factory=list)

    def read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            if line == "READY":
                self.ready.set()
            elif line == "SENT":
                self.sent.set()
            else:
                self.stderr_tail.append(line)
                del self.stderr_tail[:-30]
        self.ready.set()  # EOF: do not wait forever for a crashed generator
        self.sent.set()


def split(n: int, k: int) -> list[tuple[int, int]]:
    """[(offset, count)] splitting n documents across k processes."""
    k = max(1, min(k, n))
    base, extra = divmod(n, k)
    out, off = [], 0
    for i in range(k):
        c = base + (1 if i < extra else 0)
        out.append((off, c))
        off += c
    return out


def merge_hist(results: list[dict[str, Any]]) -> dict[str, float | None]:
    hist: dict[float, int] = {}
    for r in results:
        for k, v in r.get("hist", {}).items():
            hist[float(k)] = hist.get(float(k), 0) + v
    n = sum(hist.values())
    if n == 0:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "p999": None, "max": None}
    keys = sorted(hist)

    def pct(p: float) -> float:
        target = max(1, math.ceil(p / 100 * n))
        acc = 0
        for k in keys:
            acc += hist[k]
            if acc >= target:
                return k
        return keys[-1]

    return {
        "n": n,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "p999": pct(99.9),
        "max": max(r["lat_ms"]["max"] or 0 for r in results),
    }


def run_point(kind: str, point: dict[str, Any], procs: int) -> dict[str, Any]:
    """Fresh server, one generator run (split over `procs` node processes), server stopped."""
    docs, clients = point["docs"], point["clients"]
    rate, duration = point["rate"], point["duration"]
    server = start_server(kind)
    gens: list[Gen] = []
    try:
        time.sleep(0.5)
        idle_rss = server.rss()
        sampler = RssSampler(server)
        sampler.start()
        run_id = f"{kind[:2]}{int(time.time() * 1000) % 10**8:x}"
        for offset, count in split(docs, procs):
            cmd = [
                NODE,
                str(LOADGEN),
                "--protocol",
                server.protocol,
                "--url",
                server.url,
                "--docs",
                str(count),
                "--doc-offset",
                str(offset),
                "--clients",
                str(clients),
                "--rate",
                repr(rate),
                "--duration",
                repr(duration),
                "--run-id",
                run_id,
                "--wait-go",
                "--histogram",
                "--settle",
                repr(point.get("settle", 5)),
            ]
            if server.token:
                cmd += ["--token", server.token]
            if NO_DEFLATE:
                cmd.append("--no-deflate")
            p = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            g = Gen(p)
            threading.Thread(target=g.read_stderr, daemon=True).start()
            gens.append(g)
        connect_deadline = time.monotonic() + 60 + docs * clients * 0.05
        for g in gens:
            if not g.ready.wait(max(0.0, connect_deadline - time.monotonic())):
                raise HarnessError(
                    f"{kind}: generator not ready (connect phase) before the deadline; "
                    "generator stderr:\n" + "\n".join(g.stderr_tail[-10:])
                )
        cpu0 = server.cpu_seconds()
        t0 = time.monotonic()
        for g in gens:
            if g.proc.poll() is None:
                assert g.proc.stdin is not None
                g.proc.stdin.write("GO\n")
                g.proc.stdin.flush()
        for g in gens:
            g.sent.wait(duration * 3 + 60)
        load_s = time.monotonic() - t0
        cpu_s = server.cpu_seconds() - cpu0
        outputs = []
        for g in gens:
            try:
                out, _ = g.proc.communicate(timeout=duration + 120)
            except subprocess.TimeoutExpired as e:
                g.proc.kill()
                raise HarnessError(f"{kind}: generator did not finish") from e
            line = out.strip().splitlines()[-1] if out.strip() else ""
            try:
                res = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(
                    f"{kind}: generator printed no result (exit {g.proc.returncode}); stderr:\n"
                    + "\n".join(g.stderr_tail[-15:])
                ) from e
            if "error" in res:
                raise HarnessError(f"{kind}: generator error: {res['error']}")
            if res["connections"] and res["connect_failed"] == res["connections"]:
                raise HarnessError(
                    f"{kind}: the server accepted no sync connection; server log tail:\n"
                    + server.log_tail(12)
                )
            outputs.append(res)
        peak_rss = sampler.stop()
        alive = server.proc.poll() is None
    finally:
        for g in gens:
            if g.proc.poll() is None:
                g.proc.kill()
        server_log = server.log_tail(8)
        server.stop()
    return summarise(
        kind, point, procs, outputs, load_s, cpu_s, idle_rss, peak_rss, alive, server_log
    )


def summarise(
    kind: str,
    point: dict[str, Any],
    procs: int,
    outs: list[dict[str, Any]],
    load_s: float,
    cpu_s: float,
    idle_rss: int,
    peak_rss: int,
    alive: bool,
    server_log: str,
) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(int(o[key]) for o in outs)

    lat = outs[0]["lat_ms"] if len(outs) == 1 else merge_hist(outs)
    gen_sat = [
        f"proc {i}: " + "; ".join(o["gen"]["saturation"])
        for i, o in enumerate(outs)
        if o["gen"]["saturated"]
    ]
    if len(outs) == 1 and gen_sat:
        gen_sat = outs[0]["gen"]["saturation"]
    res = {
        "server": kind,
        "point": point["name"],
        "docs": point["docs"],
        "clients": point["clients"],
        "rate": point["rate"],
        "duration_s": point["duration"],
        "procs": len(outs),
        "connections": total("connections"),
        "connect_failed": total("connect_failed"),
        "connect_s": max(o["connect_s"] for o in outs),
        "permessage_deflate": total("permessage_deflate"),
        "sent": total("sent"),
        "scheduled": total("scheduled"),
        "expected": total("expected"),
        "received": total("received"),
        "lost": total("lost"),
        "disconnects": total("disconnects"),
        "converged_docs": total("converged_docs"),
        "diverged_docs": total("diverged_docs"),
        "lat_ms": {k: lat.get(k) for k in ("n", "p50", "p90", "p99", "p999", "max")},
        "server_cpu_s": round(cpu_s, 3),
        "server_cpu_frac": round(cpu_s / load_s, 3) if load_s > 0 else None,
        "server_load_s": round(load_s, 3),
        "server_idle_rss_mb": round(idle_rss / 2**20, 1),
        "server_peak_rss_mb": round(peak_rss / 2**20, 1),
        "server_rss_per_doc_kb": round((peak_rss - idle_rss) / 1024 / point["docs"], 1),
        "server_alive": alive,
        "gen_cpu_frac": max(o["gen"]["cpu_frac"] for o in outs),
        "gen_loop_p99_ms": max(o["gen"]["loop_p99_ms"] for o in outs),
        "gen_send_lag_p99_ms": max(o["gen"]["send_lag_p99_ms"] for o in outs),
        "gen_saturated": bool(gen_sat),
        "gen_saturation": gen_sat,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    if not alive:
        res["server_log_tail"] = server_log
    res["clean"] = (
        res["lost"] == 0 and res["diverged_docs"] == 0 and res["connect_failed"] == 0 and alive
    )
    p99 = res["lat_ms"]["p99"]
    res["meets_target"] = res["clean"] and p99 is not None and p99 < P99_TARGET_MS
    return res


# ------------------------------------------------------------------------------------ plan
def plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "fixed": [dict(name="50x4x2", docs=50, clients=4, rate=2, duration=5)],
            "search": dict(docs=20, clients=5, rates=[10, 40], duration=4),
            "conns": dict(name="conns-500", docs=250, clients=2, doc_rate=1, duration=5),
        }
    return {
        "fixed": [
            dict(name="50x4x2", docs=50, clients=4, rate=2, duration=20),
            dict(name="10x20x2", docs=10, clients=20, rate=2, duration=20),
            dict(name="200x2x1", docs=200, clients=2, rate=1, duration=20),
        ],
        "search": dict(docs=20, clients=5, rates=[2, 5, 10, 20, 40, 80, 160, 320], duration=10),
        "conns": dict(name="conns-2000", docs=1000, clients=2, doc_rate=1, duration=20),
    }


# ------------------------------------------------------------------------------------ output
def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def status(r: dict[str, Any]) -> str:
    bits = []
    if not r["server_alive"]:
        bits.append("SERVER DIED")
    if r["connect_failed"]:
        bits.append(f"{r['connect_failed']} conn failed")
    if r["lost"]:
        bits.append(f"LOST {r['lost']}")
    if r["diverged_docs"]:
        bits.append(f"{r['diverged_docs']} diverged")
    if r["disconnects"]:
        bits.append(f"{r['disconnects']} disconnects")
    if r["gen_saturated"]:
        bits.append("GEN SATURATED")
    return ", ".join(bits) or "ok"


def table(rows: list[dict[str, Any]], cols: list[tuple[str, Any]]) -> str:
    cells = [[h for h, _ in cols]] + [[f(r) for _, f in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = []
    for j, c in enumerate(cells):
        lines.append("| " + " | ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)) + " |")
        if j == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


POINT_COLS: list[tuple[str, Any]] = [
    ("server", lambda r: SERVER_NAMES[r["server"]]),
    ("p50 ms", lambda r: fmt(r["lat_ms"]["p50"], 2)),
    ("p99 ms", lambda r: fmt(r["lat_ms"]["p99"], 1)),
    ("max ms", lambda r: fmt(r["lat_ms"]["max"], 1)),
    ("delivered/expected", lambda r: f"{r['received']}/{r['expected']}"),
    ("converged", lambda r: f"{r['converged_docs']}/{r['docs']}"),
    ("srv CPU s", lambda r: fmt(r["server_cpu_s"], 2)),
    ("srv CPU %", lambda r: fmt(100 * r["server_cpu_frac"], 0)),
    ("srv peak RSS MB", lambda r: fmt(r["server_peak_rss_mb"], 0)),
    ("gen CPU %", lambda r: fmt(100 * r["gen_cpu_frac"], 0)),
    ("status", status),
]

CONN_COLS: list[tuple[str, Any]] = [
    *POINT_COLS[:4],
    ("connect s", lambda r: fmt(r["connect_s"], 1)),
    ("delivered/expected", lambda r: f"{r['received']}/{r['expected']}"),
    ("srv CPU %", lambda r: fmt(100 * r["server_cpu_frac"], 0)),
    ("idle RSS MB", lambda r: fmt(r["server_idle_rss_mb"], 0)),
    ("peak RSS MB", lambda r: fmt(r["server_peak_rss_mb"], 0)),
    ("RSS/doc KB", lambda r: fmt(r["server_rss_per_doc_kb"], 1)),
    ("gen CPU %", lambda r: fmt(100 * r["gen_cpu_frac"], 0)),
    ("status", status),
]


Ratio = tuple[float, str]  # Atelier's value over the best peer's, and that peer


def best_peer_ratios(rows: list[dict[str, Any]]) -> tuple[Ratio | None, Ratio | None]:
    """(p99, server CPU s) of Atelier over the best peer's in `rows`; None when not measured."""
    at = [r for r in rows if r["server"] == "atelier"]
    peers = [r for r in rows if r["server"] != "atelier"]
    if not at or not peers:
        return None, None
    a = at[0]
    p99: Ratio | None = None
    p99s = [(r["lat_ms"]["p99"], r["server"]) for r in peers if r["lat_ms"]["p99"]]
    if p99s and a["lat_ms"]["p99"]:
        best, who = min(p99s)
        p99 = (a["lat_ms"]["p99"] / best, who)
    cpu: Ratio | None = None
    cpus = [(r["server_cpu_s"], r["server"]) for r in peers if r["server_cpu_s"] > 0]
    if cpus:
        best, who = min(cpus)
        cpu = (a["server_cpu_s"] / best, who)
    return p99, cpu


def ratios(rows: list[dict[str, Any]]) -> str:
    out = []
    for label, ratio in zip(("p99", "server CPU s"), best_peer_ratios(rows), strict=True):
        if ratio is not None:
            value, who = ratio
            out.append(f"{label} Atelier/best peer ({SERVER_NAMES[who]}) = {value:.2f}")
    return "ratios: " + "; ".join(out) if out else ""


def median_ratios(per_round: list[tuple[Ratio | None, Ratio | None]]) -> str:
    """The per-round Atelier/best-peer ratios and their medians."""
    out = []
    for label, values in (
        ("p99", [p99[0] for p99, _cpu in per_round if p99 is not None]),
        ("server CPU s", [cpu[0] for _p99, cpu in per_round if cpu is not None]),
    ):
        if values:
            listed = ", ".join(f"{v:.2f}" for v in values)
            median = statistics.median(values)
            out.append(f"{label} Atelier/best peer median {median:.2f} ({listed})")
    return "; ".join(out) if out else "no ratio measured"


def describe(point: dict[str, Any]) -> str:
    conns = point["docs"] * point["clients"]
    return (
        f"{point['docs']} docs x {point['clients']} clients x {point['rate']:g} updates/s "
        f"per client, {point['duration']:g} s ({conns} connections, "
        f"{conns * (point['clients'] - 1) * point['rate']:g} deliveries/s expected)"
    )


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    node_v = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "node": node_v,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter durations, fewer points")
    ap.add_argument(
        "--servers",
        default="atelier,ywss,hocuspocus",
        help="comma list among atelier, ywss, hocuspocus",
    )
    ap.add_argument(
        "--points", default="fixed,search,conns", help="comma list among fixed, search, conns"
    )
    ap.add_argument(
        "--procs",
        type=int,
        default=1,
        help="node processes for the generator (documents split across them)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="fixed points: run every server N times, alternating, and report the median "
        "of the per-round ratios (one run's ratios move by about 0.2 on a 2-core machine)",
    )
    ap.add_argument("--json", type=Path, help="write all results to this JSON file")
    ap.add_argument(
        "--no-deflate",
        action="store_true",
        help="clients do not offer permessage-deflate (stock clients and browsers do)",
    )
    args = ap.parse_args(argv)
    global NO_DEFLATE
    NO_DEFLATE = args.no_deflate

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in servers:
        if s not in SERVER_NAMES:
            ap.error(f"unknown server {s!r}")
    points = {p.strip() for p in args.points.split(",") if p.strip()}
    p = plan(args.quick)
    mach = machine()
    log(
        f"machine: {mach['nproc']} cores, {mach['cpu_model']}, node {mach['node']}, "
        f"load average {mach['loadavg_at_start']}"
    )
    harness_errors: list[str] = []
    broken: set[str] = set()
    results: list[dict[str, Any]] = []
    report: list[str] = []
    started = time.monotonic()

    def attempt(kind: str, point: dict[str, Any]) -> dict[str, Any] | None:
        if kind in broken:
            return None
        log(f"{SERVER_NAMES[kind]}: {point['name']} ({describe(point)})")
        try:
            r = run_point(kind, point, args.procs)
        except HarnessError as e:
            log(f"HARNESS FAILURE: {e}")
            harness_errors.append(f"{kind} {point['name']}: {e}")
            broken.add(kind)
            return None
        log(
            f"  -> p99 {fmt(r['lat_ms']['p99'], 1)} ms, {r['received']}/{r['expected']} "
            f"delivered, server CPU {r['server_cpu_s']:.2f} s, peak RSS "
            f"{r['server_peak_rss_mb']:.0f} MB, gen CPU {100 * r['gen_cpu_frac']:.0f}%"
            + (
                f"  [GENERATOR SATURATED: {'; '.join(r['gen_saturation'])}]"
                if r["gen_saturated"]
                else ""
            )
        )
        results.append(r)
        return r

    def emit(text: str) -> None:
        report.append(text)
        print(text, flush=True)

    def missing(rows: list[dict[str, Any]]) -> None:
        ran = {r["server"] for r in rows}
        gone = [SERVER_NAMES[k] for k in servers if k not in ran]
        if gone:
            emit(f"\nnot measured (harness failure, see the end): {', '.join(gone)}")

    if "fixed" in points:
        for point in p["fixed"]:
            per_round: list[tuple[Ratio | None, Ratio | None]] = []
            for round_ in range(1, args.rounds + 1):
                # Alternate the order too: no server always runs right after the same other.
                order = servers if round_ % 2 else list(reversed(servers))
                rows = [r for kind in order if (r := attempt(kind, point))]
                rows.sort(key=lambda r: servers.index(r["server"]))
                for r in rows:
                    r["round"] = round_
                title = f" (round {round_} of {args.rounds})" if args.rounds > 1 else ""
                emit(f"\n### {point['name']}: {describe(point)}{title}\n")
                emit(table(rows, POINT_COLS))
                missing(rows)
                if rt := ratios(rows):
                    emit("\n" + rt)
                per_round.append(best_peer_ratios(rows))
            if args.rounds > 1:
                emit(f"\n{point['name']}: " + median_ratios(per_round))

    if "search" in points:
        sp = p["search"]
        summary = []
        for kind in servers:
            best: dict[str, Any] | None = None
            stop_reason = f"all rates up to {sp['rates'][-1]}/s passed"
            for rate in sp["rates"]:
                point = dict(
                    name=f"search-{rate}",
                    docs=sp["docs"],
                    clients=sp["clients"],
                    rate=rate,
                    duration=sp["duration"],
                )
                r = attempt(kind, point)
                if r is not None and not r["meets_target"]:
                    # one retry: on a shared 2-core machine a single step can fail on noise
                    log(f"  {SERVER_NAMES[kind]} missed the target at {rate}/s: confirming")
                    r["search"] = True
                    r2 = attempt(kind, dict(point, name=f"search-{rate}-retry"))
                    if r2 is not None:
                        r = r2
                if r is None:
                    stop_reason = "harness failure"
                    break
                r["search"] = True
                if not r["meets_target"]:
                    why = status(r) if not r["clean"] else f"p99 {r['lat_ms']['p99']:.1f} ms"
                    stop_reason = f"failed at {rate}/s: {why}"
                    if r["gen_saturated"]:
                        stop_reason += " (generator saturated: limit may be the generator's)"
                    break
                best = r
                if r["gen_saturated"]:
                    stop_reason = (
                        f"stopped at {rate}/s: generator saturated "
                        f"({'; '.join(r['gen_saturation'])})"
                    )
                    break
            summary.append((kind, best, stop_reason))
        sp_desc = (
            f"{sp['docs']} docs x {sp['clients']} clients, rates "
            f"{', '.join(str(x) for x in sp['rates'])} updates/s per client, "
            f"{sp['duration']} s each"
        )
        emit(
            f"\n### Highest rate per client with p99 < {P99_TARGET_MS:g} ms and no loss "
            f"({sp_desc})\n"
        )
        rows = [{"kind": k, "best": b, "why": w} for k, b, w in summary]
        emit(
            table(
                rows,
                [
                    ("server", lambda x: SERVER_NAMES[x["kind"]]),
                    (
                        "max rate/client",
                        lambda x: f"{x['best']['rate']}/s" if x["best"] else "none",
                    ),
                    (
                        "updates/s in",
                        lambda x: (
                            fmt(x["best"]["rate"] * sp["docs"] * sp["clients"], 0)
                            if x["best"]
                            else "-"
                        ),
                    ),
                    (
                        "deliveries/s out",
                        lambda x: (
                            fmt(
                                x["best"]["rate"]
                                * sp["docs"]
                                * sp["clients"]
                                * (sp["clients"] - 1),
                                0,
                            )
                            if x["best"]
                            else "-"
                        ),
                    ),
                    (
                        "p99 ms there",
                        lambda x: fmt(x["best"]["lat_ms"]["p99"], 1) if x["best"] else "-",
                    ),
                    (
                        "srv CPU % there",
                        lambda x: fmt(100 * x["best"]["server_cpu_frac"], 0) if x["best"] else "-",
                    ),
                    ("next step", lambda x: x["why"]),
                ],
            )
        )
        per_rate = [r for r in results if r.get("search")]
        if per_rate:
            emit("\nAll search steps:\n")
            emit(table(per_rate, [("rate/s", lambda r: str(r["rate"])), *POINT_COLS]))

    if "conns" in points:
        cp = p["conns"]
        point = dict(
            name=cp["name"],
            docs=cp["docs"],
            clients=cp["clients"],
            rate=cp["doc_rate"] / cp["clients"],
            duration=cp["duration"],
        )
        rows = [r for kind in servers if (r := attempt(kind, point))]
        emit(
            f"\n### {cp['name']}: {cp['docs'] * cp['clients']} open connections "
            f"({cp['docs']} docs x {cp['clients']} clients), {cp['doc_rate']} update/s per "
            f"document, {cp['duration']} s\n"
        )
        emit(table(rows, CONN_COLS))
        missing(rows)
        if rt := ratios(rows):
            emit("\n" + rt)
        at = [r for r in rows if r["server"] == "atelier"]
        peers = [r for r in rows if r["server"] != "atelier" and r["server_rss_per_doc_kb"] > 0]
        if at and peers:
            best = min(peers, key=lambda r: r["server_rss_per_doc_kb"])
            emit(
                f"RSS per document Atelier/best peer ({SERVER_NAMES[best['server']]}) = "
                f"{at[0]['server_rss_per_doc_kb'] / best['server_rss_per_doc_kb']:.2f}"
            )

    sat = [r for r in results if r["gen_saturated"]]
    emit("")
    if sat:
        emit(
            "GENERATOR SATURATED at: "
            + "; ".join(
                f"{SERVER_NAMES[r['server']]} {r['point']} ({', '.join(r['gen_saturation'])})"
                for r in sat
            )
            + " -- latencies there include the generator's own queueing."
        )
    else:
        emit(
            "Generator never saturated (CPU <= 85% of a core, event-loop delay p99 and send "
            "lag p99 <= 50 ms at every point)."
        )
    elapsed = time.monotonic() - started
    emit(
        f"Total bench time {elapsed:.0f} s; load average now "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}."
    )
    if harness_errors:
        emit("HARNESS FAILURES:\n" + "\n".join(f"  - {e.splitlines()[0]}" for e in harness_errors))

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": mach,
                    "quick": args.quick,
                    "servers": servers,
                    "procs": args.procs,
                    "plan": p,
                    "results": results,
                    "harness_errors": harness_errors,
                    "report": "\n".join(report),
                    "elapsed_s": round(elapsed, 1),
                },
                indent=1,
            )
        )
        log(f"wrote {args.json}")
    return 1 if harness_errors else 0


if __name__ == "__main__":
    sys.exit(main())
