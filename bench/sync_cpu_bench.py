"""Steady-state server CPU per update: Atelier and the reference servers, alternating.

`sync_bench.py` measures CPU over each point's send phase right after the clients connect, so
its figure also holds the tail of the connection burst (first syncs, full garbage
collections). This one connects the clients, waits `--settle` seconds, then measures the
server's user + system CPU over the send phase only, with the same generator
(bench/sync/loadgen.mjs); servers alternate `--rounds` times so drift on a shared machine
falls on all of them. It prints µs of server CPU per update received and the ratio to the
best peer of each round.

    .venv/bin/python bench/sync_cpu_bench.py --docs 200 --clients 2 --rate 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_bench


def measure(
    kind: str, docs: int, clients: int, rate: float, duration: float, settle: float
) -> float:
    """Server CPU µs per update sent, over the send phase."""
    server = sync_bench.start_server(kind)
    try:
        process = psutil.Process(server.proc.pid)
        command = [
            sync_bench.NODE, str(sync_bench.LOADGEN), "--protocol", server.protocol,
            "--url", server.url, "--docs", str(docs), "--clients", str(clients),
            "--rate", repr(rate), "--duration", repr(duration),
            "--run-id", f"cpu{int(time.time() * 1000) % 10**8:x}", "--settle", "1", "--wait-go",
        ]  # fmt: skip
        if server.token:
            command += ["--token", server.token]
        gen = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=sync_bench.ROOT,
        )  # fmt: skip
        assert gen.stderr is not None and gen.stdin is not None
        while True:
            line = gen.stderr.readline()
            if not line or "connected" in line:
                break
        time.sleep(settle)
        before = process.cpu_times()
        gen.stdin.write("GO\n")
        gen.stdin.flush()
        out, _ = gen.communicate(timeout=duration * 3 + 120)
        after = process.cpu_times()
        result = json.loads(out.strip().splitlines()[-1])
        if result.get("received") != result.get("expected"):
            print(f"  {kind}: {result.get('received')}/{result.get('expected')} delivered")
        cpu = after.user - before.user + after.system - before.system
        return cpu / max(int(result["sent"]), 1) * 1e6
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1.0, help="updates/s per client")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="atelier,ywss")
    args = parser.parse_args()
    kinds = args.servers.split(",")
    per_update: dict[str, list[float]] = {kind: [] for kind in kinds}
    ratios: list[float] = []
    for round_ in range(args.rounds):
        row = {}
        for kind in kinds:
            row[kind] = measure(
                kind, args.docs, args.clients, args.rate, args.duration, args.settle
            )
            per_update[kind].append(row[kind])
        peers = [row[kind] for kind in kinds if kind != "atelier"]
        ratio = row["atelier"] / min(peers) if "atelier" in row and peers else float("nan")
        ratios.append(ratio)
        cells = ", ".join(f"{kind} {value:.0f} µs" for kind, value in row.items())
        print(f"round {round_ + 1}: {cells}; Atelier/best peer {ratio:.2f}", flush=True)
    point = f"{args.docs}x{args.clients}x{args.rate:g}"
    medians = ", ".join(f"{k} {statistics.median(v):.0f} µs" for k, v in per_update.items())
    ratio = statistics.median(ratios)
    print(f"{point}: median server CPU per update: {medians}; ratio median {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
