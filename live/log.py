"""Where live events are kept for a while: in this process, or in a Redis Stream for many workers.

Both give every event an id of the form `<milliseconds>-<sequence>`, increasing over the whole
stream; both keep the last `retention` events, and say when a client asks for events older than
that (it is told to reload). Each worker's log hands every new event, in order, to the
`on_event` callbacks (the worker's hub), whichever worker appended it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis

from live.protocol import NO_EVENT, Event, id_key

log = logging.getLogger("atelier.live")

Listener = Callable[[Event], None]
STREAM = "atelier:live"
DEFAULT_RETENTION = 100_000


class EventLog(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def on_event(self, listener: Listener) -> None: ...

    async def append(self, topic: str, kind: str, data: Mapping[str, Any]) -> Event:
        """Add an event; every worker's listeners get it, in order."""

    async def since(self, after: str, topics: frozenset[str]) -> list[Event] | None:
        """The kept events of `topics` after `after`, in order; None when some after it are no
        longer kept (past the retention window)."""

    async def head(self) -> str:
        """The id of the last event (NO_EVENT when there is none)."""


class InProcessLog:
    """The embedded default: one process, the last `retention` events in memory."""

    def __init__(self, retention: int = DEFAULT_RETENTION) -> None:
        self._events: deque[Event] = deque(maxlen=retention)
        self._listeners: list[Listener] = []
        self._last = (0, 0)
        self._dropped_through = (0, 0)  # key of the newest event no longer kept

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def on_event(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _next_id(self) -> str:
        now = int(time.time() * 1000)
        key = (now, 0) if now > self._last[0] else (self._last[0], self._last[1] + 1)
        self._last = key
        return f"{key[0]}-{key[1]}"

    async def append(self, topic: str, kind: str, data: Mapping[str, Any]) -> Event:
        event = Event(self._next_id(), topic, kind, dict(data))
        if len(self._events) == self._events.maxlen:
            self._dropped_through = self._events[0].key
        self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    async def since(self, after: str, topics: frozenset[str]) -> list[Event] | None:
        key = id_key(after)
        if key < self._dropped_through:
            return None
        return [e for e in self._events if e.key > key and e.topic in topics]

    async def head(self) -> str:
        return self._events[-1].id if self._events else NO_EVENT


class RedisLog:
    """A Redis Stream shared by every worker, trimmed to about `retention` events."""

    def __init__(self, url: str, *, retention: int = DEFAULT_RETENTION, stream: str = STREAM):
        self._url = url
        self._retention = retention
        self._stream = stream
        self._client: aioredis.Redis | None = None
        self._reader: aioredis.Redis | None = None
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._last_read = "$"
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(self._url, socket_connect_timeout=2)
        # Reads block: a connection of their own, without the command timeout.
        self._reader = aioredis.Redis.from_url(self._url, socket_connect_timeout=2)
        await self._client.ping()
        # Start after the last event that exists now: what follows reaches the listeners.
        self._last_read = await self.head()
        self._task = asyncio.create_task(self._read(), name="live-log-read")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for client in (self._client, self._reader):
            if client is not None:
                await client.aclose()
        self._client = self._reader = None

    def on_event(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def append(self, topic: str, kind: str, data: Mapping[str, Any]) -> Event:
        assert self._client is not None, "start the log first"
        body = Event("0-0", topic, kind, dict(data)).encode()
        raw_id: Any = await self._client.xadd(
            self._stream, {"e": body}, maxlen=self._retention, approximate=True
        )
        return Event(_text(raw_id), topic, kind, dict(data))

    async def since(self, after: str, topics: frozenset[str]) -> list[Event] | None:
        assert self._client is not None, "start the log first"
        if await self._trimmed_after(id_key(after)):
            return None
        events: list[Event] = []
        start = f"({after}"
        while True:
            rows: Any = await self._client.xrange(self._stream, min=start, max="+", count=1000)
            if not rows:
                return events
            for raw_id, fields in rows:
                event = _event(raw_id, fields)
                if event is not None and event.topic in topics:
                    events.append(event)
            start = f"({_text(rows[-1][0])}"

    async def _trimmed_after(self, key: tuple[int, int]) -> bool:
        """Whether events after `key` may have been trimmed away: some were trimmed, and the
        oldest one kept is past `key` (those between are gone, or may be)."""
        assert self._client is not None
        try:
            info: dict[Any, Any] = await self._client.xinfo_stream(self._stream)
        except aioredis.ResponseError:  # no stream yet: nothing was ever trimmed
            return False
        if int(info["entries-added"]) <= int(info["length"]):
            return False
        first = info.get("recorded-first-entry-id")
        if first is None:
            raise RuntimeError("the live stream needs Redis 7 or later (recorded-first-entry-id)")
        return key < id_key(_text(first))

    async def head(self) -> str:
        assert self._client is not None
        rows: Any = await self._client.xrevrange(self._stream, count=1)
        return _text(rows[0][0]) if rows else NO_EVENT

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            assert self._reader is not None
            try:
                self.connected.set()
                answer: Any = await self._reader.xread(
                    {self._stream: self._last_read}, count=500, block=5000
                )
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                log.warning("live: lost Redis (%s); reading again shortly", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for _stream, rows in answer or []:
                for raw_id, fields in rows:
                    self._last_read = _text(raw_id)
                    event = _event(raw_id, fields)
                    if event is None:
                        continue
                    for listener in self._listeners:
                        try:
                            listener(event)
                        except Exception:
                            log.exception("live: a listener failed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _event(raw_id: bytes | str, fields: Mapping[Any, Any]) -> Event | None:
    body = fields.get(b"e", fields.get("e"))
    try:
        stored = Event.decode(body)
    except (ValueError, KeyError, TypeError):
        log.warning("live: skipping a malformed event %s", _text(raw_id))
        return None
    return Event(_text(raw_id), stored.topic, stored.kind, stored.data)


def make_log(redis_url: str, retention: int = DEFAULT_RETENTION) -> EventLog:
    """The log the settings ask for."""
    if redis_url:
        return RedisLog(redis_url, retention=retention)
    return InProcessLog(retention)
