"""A WebSocket to an app in process: the ASGI messages a server would pass, with no network.

`AppSocket(app, "/sync/doc", cookie=...)` opens the socket with that session cookie and no
Origin header (as scripts connect); `opened()` tells whether the app took it (True) or closed
it at once (how); then `send_bytes` / `send_text`, `receive()` (the next message, or the
close), and `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from tests.support.web_app import BASE_URL
from web.auth.sessions import COOKIE_NAME

# No answer in this long is a failure of the app, not a wait for the test.
ANSWER_WITHIN = 10.0


@dataclass(frozen=True)
class Closed:
    """The app closed the socket."""

    code: int
    reason: str


class AppSocket:
    """One WebSocket between a test and an app in process."""

    def __init__(
        self, app: Starlette, path: str, *, cookie: str = "", client: str = "127.0.0.1"
    ) -> None:
        path, _, query = path.partition("?")
        host = BASE_URL.split("://", 1)[1]
        headers = [(b"host", host.encode())]
        if cookie:
            headers.append((b"cookie", f"{COOKIE_NAME}={cookie}".encode()))
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": (client, 50000),
            "server": (host, 80),
            "subprotocols": [],
            "state": {},
        }
        self.app = app
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._held: list[dict[str, Any]] = []
        self.closed: Closed | None = None

    async def opened(self, *, greeted: bool = True) -> bool | Closed:
        """Connect: True once the app accepted and did not close at once, else how it closed.

        The endpoints accept first and authorise after, and greet whom they take (`/sync` with
        its sync step 1, `/visio` with a welcome or the lobby): a refusal is a close instead.
        One that says nothing first (`/live` waits for the client's hello): `greeted=False`,
        True once accepted, and a refusal is the close that `receive` then gives.
        """
        self._task = asyncio.create_task(self.app(self.scope, self._to_app.get, self._send))
        await self._to_app.put({"type": "websocket.connect"})
        first = await self._next()
        if first["type"] == "websocket.close":
            return self._closed(first)
        assert first["type"] == "websocket.accept", first
        if not greeted:
            return True
        greeting = await self._next()
        if greeting["type"] == "websocket.close":
            return self._closed(greeting)
        self._held.append(greeting)
        return True

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        await self._from_app.put(dict(message))

    async def _next(self) -> dict[str, Any]:
        if self._held:
            return self._held.pop(0)
        return await asyncio.wait_for(self._from_app.get(), ANSWER_WITHIN)

    def _closed(self, message: dict[str, Any]) -> Closed:
        self.closed = Closed(int(message.get("code", 1000)), str(message.get("reason", "")))
        return self.closed

    async def receive(self) -> bytes | str | Closed:
        """The app's next message, or how it closed the socket."""
        if self.closed is not None:
            return self.closed
        message = await self._next()
        if message["type"] == "websocket.close":
            return self._closed(message)
        assert message["type"] == "websocket.send", message
        data = message.get("bytes")
        return data if data is not None else str(message.get("text", ""))

    async def receive_until(self, wanted: Any) -> bytes | str | Closed:
        """Messages until one for which `wanted(message)` is true, or the close."""
        while True:
            message = await self.receive()
            if isinstance(message, Closed) or wanted(message):
                return message

    async def send_bytes(self, data: bytes) -> None:
        await self._to_app.put({"type": "websocket.receive", "bytes": data})

    async def send_text(self, text: str) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": text})

    async def close(self) -> None:
        """Disconnect (as a browser tab closing) and wait for the app's handler to end."""
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, ANSWER_WITHIN)
