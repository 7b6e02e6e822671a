"""The bus between workers: in-process for one worker, Redis pub/sub for many.

Every message carries the sender's instance id as a 16-byte prefix followed by the same
y-protocol bytes as the socket (as Hocuspocus' Redis extension does); a worker drops its
own echoes. Publishing never blocks the caller: messages are queued and sent in pipelined
batches. When Redis comes back after an outage, subscriptions are restored and the
`on_reconnect` callbacks run so rooms can catch up from storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

log = logging.getLogger("atelier.bus")

Handler = Callable[[bytes], None]
ReconnectCallback = Callable[[], Awaitable[None]]
PREFIX_BYTES = 16


class Bus(Protocol):
    """What rooms need from a bus."""

    instance_id: bytes

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def subscribe(self, channel: str, handler: Handler) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...
    def publish(self, channel: str, data: bytes) -> None: ...
    def add_reconnect_callback(self, callback: ReconnectCallback) -> None: ...


class LocalHub:
    """Shared by InProcessBus instances that stand for workers of one process (tests)."""

    def __init__(self) -> None:
        self.subscribers: dict[str, dict[bytes, Handler]] = {}


class InProcessBus:
    """The embedded default: one process, nothing to fan out to but other local buses."""

    def __init__(self, hub: LocalHub | None = None) -> None:
        self.instance_id = uuid.uuid4().bytes
        self._hub = hub or LocalHub()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for subscribers in self._hub.subscribers.values():
            subscribers.pop(self.instance_id, None)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._hub.subscribers.setdefault(channel, {})[self.instance_id] = handler

    async def unsubscribe(self, channel: str) -> None:
        subscribers = self._hub.subscribers.get(channel)
        if subscribers is not None:
            subscribers.pop(self.instance_id, None)
            if not subscribers:
                del self._hub.subscribers[channel]

    def publish(self, channel: str, data: bytes) -> None:
        for instance, handler in list(self._hub.subscribers.get(channel, {}).items()):
            if instance != self.instance_id:
                handler(data)

    def add_reconnect_callback(self, callback: ReconnectCallback) -> None:
        return None


class RedisBus:
    """Redis pub/sub: one subscriber connection, one pipelined publisher task."""

    def __init__(self, url: str, *, max_queue: int = 100_000) -> None:
        self.instance_id = uuid.uuid4().bytes
        self._url = url
        self._handlers: dict[str, Handler] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(max_queue)
        self._callbacks: list[ReconnectCallback] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub_changed = asyncio.Event()
        self._client: aioredis.Redis | None = None
        self._pubsub: PubSub | None = None
        self.connected = asyncio.Event()
        self.dropped = 0
        self._closing = False

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(
            self._url, socket_connect_timeout=2, health_check_interval=10
        )
        self._tasks = [
            asyncio.create_task(self._listen(), name="bus-listen"),
            asyncio.create_task(self._send(), name="bus-send"),
        ]
        # A first connection must succeed for start-up to make sense; later outages are retried.
        try:
            await asyncio.wait_for(self.connected.wait(), timeout=10)
        except TimeoutError:
            await self.close()
            raise ConnectionError("cannot reach Redis at REDIS_URL (waited 10 s)") from None

    async def close(self) -> None:
        # Give queued messages a moment to leave before stopping.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), timeout=2)
        # The loops also watch `_closing`: redis-py may swallow a cancellation inside a read,
        # and a task that never ends must not hang the worker's shutdown.
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=3)
            for task in pending:
                log.warning("bus: %s did not stop within 3 s; left behind", task.get_name())
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved, so asyncio does not log it as never retrieved
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _drain(self) -> None:
        await self._outbox.join()

    def add_reconnect_callback(self, callback: ReconnectCallback) -> None:
        self._callbacks.append(callback)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers[channel] = handler
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(Exception):  # an outage: resubscribed on reconnect
                await pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._handlers.pop(channel, None)
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
                if channel in self._handlers:
                    # The room was loaded again while we were unsubscribing.
                    await pubsub.subscribe(channel)

    def publish(self, channel: str, data: bytes) -> None:
        try:
            self._outbox.put_nowait((channel, self.instance_id + data))
        except asyncio.QueueFull:
            # Rooms catch up from storage after an outage, so dropping here loses nothing.
            self.dropped += 1

    async def _send(self) -> None:
        backoff = 0.1
        batch: list[tuple[str, bytes]] = []
        while not self._closing:
            if not batch:
                batch.append(await self._outbox.get())
                while len(batch) < 512 and not self._outbox.empty():
                    batch.append(self._outbox.get_nowait())
            try:
                assert self._client is not None
                pipe = self._client.pipeline(transaction=False)
                for channel, payload in batch:
                    pipe.publish(channel, payload)
                await pipe.execute()
                for _ in batch:
                    self._outbox.task_done()
                batch = []
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus: publishing failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                if self._outbox.qsize() > 10_000:
                    # During a long outage, stale fan-out is useless: storage has it all.
                    self.dropped += len(batch)
                    for _ in batch:
                        self._outbox.task_done()
                    batch = []

    async def _listen(self) -> None:
        backoff = 0.1
        first = True
        while not self._closing:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.ping()
                channels = list(self._handlers)
                if channels:
                    await pubsub.subscribe(*channels)
                else:
                    # Keep the connection subscribed so get_message has something to wait on.
                    await pubsub.subscribe("atelier:control")
                self._pubsub = pubsub
                self.connected.set()
                if not first:
                    log.info("bus: reconnected to Redis; rooms catch up from storage")
                    for callback in list(self._callbacks):
                        try:
                            await callback()
                        except Exception:
                            log.exception("bus: catch-up after reconnect failed")
                first = False
                backoff = 0.1
                while not self._closing:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    self._dispatch(message["channel"], message["data"])
                with contextlib.suppress(Exception):
                    await _close_pubsub(pubsub)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await _close_pubsub(pubsub)
                raise
            except Exception as exc:
                self.connected.clear()
                self._pubsub = None
                log.warning("bus: lost Redis (%s); reconnecting", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await _close_pubsub(pubsub)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _dispatch(self, channel: bytes | str, data: bytes) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        handler = self._handlers.get(name)
        if handler is None or len(data) < PREFIX_BYTES:
            return
        if data[:PREFIX_BYTES] == self.instance_id:
            return
        try:
            handler(data[PREFIX_BYTES:])
        except Exception:
            log.exception("bus: handler for %s failed", name)


async def _close_pubsub(pubsub: Any) -> None:
    # redis-py types `PubSub.aclose` in some releases and not in others: reached through Any,
    # the call type-checks against every one of them.
    await pubsub.aclose()


def make_bus(redis_url: str) -> Bus:
    """The bus the settings ask for."""
    return RedisBus(redis_url) if redis_url else InProcessBus()
