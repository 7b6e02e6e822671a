"""A viewer on a live `atelier serve`'s `/live` stream: a real WebSocket client with a
person's session cookie, as a browser tab holds it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets


class LiveViewer:
    """One tab's `/live` socket: subscribe to topics, read the events that come."""

    def __init__(self, http_url: str, cookie: str) -> None:
        self.url = http_url.replace("http://", "ws://", 1) + "/live"
        self.origin = http_url
        self.cookie = cookie
        self.ws: Any = None
        self.events: list[dict[str, Any]] = []

    async def connect(self) -> LiveViewer:
        headers = {"Cookie": self.cookie, "Origin": self.origin}
        self.ws = await websockets.connect(self.url, additional_headers=headers)
        await self.ws.send(json.dumps({"type": "hello", "last": None, "topics": []}))
        await self._until("ready")
        return self

    async def _next(self, timeout: float = 10) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return message

    async def _until(self, *kinds: str) -> dict[str, Any]:
        while True:
            message = await self._next()
            if message["type"] in kinds:
                return message
            if message["type"] == "event":
                self.events.append(message)

    async def subscribe(self, topic: str) -> str:
        """ "subscribed" or "refused"."""
        await self.ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        while True:
            message = await self._until("subscribed", "refused")
            if message["topic"] == topic:
                return str(message["type"])

    async def event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The next event of `kind` (those already received first)."""
        for i, seen in enumerate(self.events):
            if seen["kind"] == kind:
                return self.events.pop(i)
        while True:
            message = await self._next(timeout)
            if message["type"] == "event":
                if message["kind"] == kind:
                    return message
                self.events.append(message)

    async def close(self) -> None:
        await self.ws.close()
