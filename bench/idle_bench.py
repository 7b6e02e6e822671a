"""What doing nothing costs: wake-ups of an idle `atelier serve` and of an idle meeting room.

idle server   an `atelier serve` with no client: how many times a second its main thread
              goes to sleep and is woken (voluntary context switches, from /proc, Linux
              only) and its CPU per second. uvicorn's own loop wakes ten times a second;
              web/ticks.py makes it once.
idle meeting  a meeting room's timer (sfu/node.py, `RoomRuntime`), in this process, while no
              keyframe request waits: how many times a second it looks for due requests (it
              sleeps until one is due, or a second for stuck members; never 20 times).

  .venv/bin/python bench/idle_bench.py [--seconds 5] [--json bench/results/idle.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_bench
from harness import logger

log = logger("idle")


def main_thread_wakeups(pid: int) -> int:
    """Voluntary context switches of a process's main thread so far."""
    for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise RuntimeError("no voluntary_ctxt_switches in /proc")


def idle_server(seconds: float, settle: float) -> dict[str, float]:
    server = sync_bench.start_server("atelier")
    try:
        process = psutil.Process(server.proc.pid)
        time.sleep(settle)  # what start-up left (imports, first collections) settles
        woken, cpu = main_thread_wakeups(server.proc.pid), process.cpu_times()
        time.sleep(seconds)  # the measurement window
        woken = main_thread_wakeups(server.proc.pid) - woken
        after = process.cpu_times()
        used = after.user + after.system - cpu.user - cpu.system
    finally:
        server.stop()
    return {"wakeups_per_s": woken / seconds, "cpu_ms_per_s": 1000 * used / seconds}


async def idle_meeting(seconds: float) -> dict[str, float]:
    from sfu.config import SfuConfig
    from sfu.room_runtime import RoomRuntime

    room = RoomRuntime("idle", SfuConfig(), time.monotonic)
    looked = 0
    due = room.keyframes.due

    def counted(now: float) -> list[str]:
        nonlocal looked
        looked += 1
        return due(now)

    room.keyframes.due = counted  # type: ignore[method-assign]
    await asyncio.sleep(seconds)  # the measurement window
    await room.close()
    return {"timer_wakeups_per_s": looked / seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    log(f"idle atelier serve, {args.seconds:g} s")
    server = idle_server(args.seconds, args.settle)
    log(f"idle meeting room timer, {args.seconds:g} s")
    meeting = asyncio.run(idle_meeting(args.seconds))
    print(
        f"idle server:  {server['wakeups_per_s']:.1f} main-thread wake-ups/s, "
        f"{server['cpu_ms_per_s']:.2f} ms CPU/s"
    )
    print(f"idle meeting: {meeting['timer_wakeups_per_s']:.1f} timer wake-ups/s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"server": server, "meeting": meeting}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
