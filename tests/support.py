"""Real parts for tests: `atelier serve` processes, a private redis-server, the node Yjs driver."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

SESSION_COOKIE = "atelier_session"  # web.auth.sessions.COOKIE_NAME, as a browser sees it

ROOT = Path(__file__).resolve().parent.parent
ATELIER = [sys.executable, "-m", "web.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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

    def start(self, timeout: float = 30.0) -> AtelierServer:
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

    def token(self, prefix: str = "", access: str = "rw", ttl: int | None = None) -> str:
        args = [*ATELIER, "token", "--docs", prefix, "--access", access]
        if ttl is not None:
            args += ["--ttl", str(ttl)]
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


class YjsClients:
    """The node driver (tests/node/yclient.mjs): real yjs + y-websocket clients."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self.process: asyncio.subprocess.Process | None = None
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> YjsClients:
        self.process = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "tests" / "node" / "yclient.mjs"),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 2**20,
        )
        self._reader = asyncio.create_task(self._read_replies())
        return self

    async def _read_replies(self) -> None:
        assert self.process is not None and self.process.stdout
        while raw := await self.process.stdout.readline():
            reply: dict[str, Any] = json.loads(raw)
            future = self._waiting.pop(reply.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RuntimeError("the node Yjs driver exited"))

    async def __call__(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        line = json.dumps({"id": request_id, "op": op, **args}) + "\n"
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        timeout = float(args.get("timeout", 10)) + 20
        reply = await asyncio.wait_for(future, timeout)
        if not reply.get("ok"):
            raise AssertionError(f"{op} {args.get('client', '')}: {reply.get('error')}")
        return reply

    async def close(self) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            await self._reader


@contextlib.contextmanager
def servers(*items: AtelierServer) -> Iterator[tuple[AtelierServer, ...]]:
    try:
        yield items
    finally:
        for item in items:
            item.stop()


_META = re.compile(r'name="csrf-token" content="([^"]+)"')
_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def post(server: AtelierServer, cookie: str, path: str, data: dict[str, str]) -> int:
    """POST a form as the person whose session cookie this is (with its CSRF token)."""
    value = cookie.split("=", 1)[1] if cookie else ""
    jar = {SESSION_COOKIE: value} if value else {}
    async with httpx.AsyncClient(base_url=server.http_url, cookies=jar) as client:
        page = await client.get("/compte" if value else "/connexion")
        match = _META.search(page.text) or _FIELD.search(page.text)
        assert match, page.text[:300]
        response = await client.post(path, data={**data, "csrf_token": match.group(1)})
        if response.status_code >= 500:  # a server error: show what the server said
            raise AssertionError(f"{path} answered {response.status_code}:\n{server.log()[-4000:]}")
        return response.status_code


async def arrive(bot: Any) -> str | int:
    """A meeting bot's first answer: its role ("host", "member"), "lobby", or the close code."""
    await bot.wait_for(lambda: bot.messages or bot.closed)
    if bot.closed:
        return bot.closed[0]
    first = bot.messages[0]
    return str(first.fields["role"]) if first.type == "welcome" else first.type
