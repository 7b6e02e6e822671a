"""The node Yjs driver (tests/node/yclient.mjs): real yjs + y-websocket clients, one process."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from tests.support.servers import ROOT


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
