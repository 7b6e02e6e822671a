"""What the benchmark drivers share: a server process tree measured with psutil, ports, logs."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil


class HarnessError(Exception):
    """The benchmark itself failed (a server did not start, a bot crashed): not a target miss."""


def logger(prefix: str) -> Callable[[str], None]:
    """A `log(msg)` writing `[prefix] msg` to stderr."""

    def log(msg: str) -> None:
        print(f"[{prefix}] {msg}", file=sys.stderr, flush=True)

    return log


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A server under test: its process tree's CPU and memory, its log, a clean stop."""

    kind: str
    proc: subprocess.Popen[bytes]
    tmpdir: Path
    logfile: Path

    def tree(self) -> list[psutil.Process]:
        try:
            p = psutil.Process(self.proc.pid)
            return [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += p.memory_info().rss
        return total

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                print(f"{self.kind}: no exit 10 s after SIGTERM, killing", file=sys.stderr)
                for p in reversed(self.tree()):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        p.kill()
                self.proc.wait(5)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def mint_atelier_token(atelier: list[str], cwd: Path, env: dict[str, str], prefix: str) -> str:
    """`atelier token --docs PREFIX --access rw`: the token on its last line."""
    r = subprocess.run(
        [*atelier, "token", "--docs", prefix, "--access", "rw"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        raise HarnessError(f"atelier token failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return lines[-1].strip()
