"""Real server processes for tests: `atelier serve` on loopback and a private redis-server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port, port_answers

ROOT = Path(__file__).resolve().parents[2]
ATELIER = [sys.executable, "-m", "web.cli"]


def stop_process(
    process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15.0
) -> int | None:
    """Signal a child process and wait for it (killed after `timeout`); its exit code."""
    if process is None or process.poll() is not None:
        return None if process is None else process.returncode
    process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def read_log(path: Path) -> str:
    """A child process's log file so far ("" before it exists)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


class AtelierServer:
    """One `atelier serve` process on loopback with its own (or a shared) data folder."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"server-{self.port}.log"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "REDIS_"))}
        env.pop("DATABASE_URL", None)
        env.update(
            {
                "ATELIER_DATA_DIR": str(self.data_dir),
                "ATELIER_LOG_LEVEL": "info",
                "ATELIER_ROOM_IDLE_SECONDS": "1",
                # Media stays on this machine: loopback host candidates, no STUN server.
                "ATELIER_VISIO_HOST_ADDRESSES": "127.0.0.1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sync_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/sync"

    def start(self, timeout: float = 90.0) -> AtelierServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*ATELIER, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"atelier serve exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.http_url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"atelier serve not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return read_log(self.log_path)[-6000:]

    def health(self) -> dict[str, Any]:
        """The server's /healthz figures, its store's among them (`updates_pending`,
        `commits`): what a test waits on to know the server has stored something."""
        figures: dict[str, Any] = httpx.get(f"{self.http_url}/healthz", timeout=5).json()
        return figures

    def token(
        self, prefix: str = "", access: str = "rw", ttl: int | None = None, *, name: str = ""
    ) -> str:
        """`atelier token` for documents under `prefix`; `name` labels the holder's caret."""
        args = [*ATELIER, "token", "--docs", prefix, "--access", access]
        if ttl is not None:
            args += ["--ttl", str(ttl)]
        if name:
            args += ["--name", name]
        out = subprocess.run(
            args, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        ).stdout
        return out.strip().splitlines()[-1]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        return stop_process(self.process, sig, timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> AtelierServer:
        """Stop (if running) and start again on the same port and data folder."""
        self.stop()
        return self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


class RedisServer:
    """A private redis-server on a free port, so a test may stop and restart it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_answers(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
