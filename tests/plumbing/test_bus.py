"""The Redis bus between workers: messages cross between two buses, and closing a worker's bus
always returns, even when Redis or its client library misbehaves."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from plumbing.bus import RedisBus
from tests.support.waiting import eventually


async def test_a_message_published_on_one_bus_reaches_the_other_and_not_itself(
    redis_url: str,
) -> None:
    first, second = RedisBus(redis_url), RedisBus(redis_url)
    await first.start()
    await second.start()
    channel = f"test:{uuid.uuid4().hex}"
    got_first: list[bytes] = []
    got_second: list[bytes] = []
    try:
        await first.subscribe(channel, got_first.append)
        await second.subscribe(channel, got_second.append)
        first.publish(channel, b"bonjour")
        await eventually(lambda: got_second == [b"bonjour"], what="the other worker's message")
        assert got_first == []
    finally:
        await first.close()
        await second.close()


async def test_closing_returns_when_the_client_swallows_the_cancellation(
    redis_url: str, monkeypatch: Any
) -> None:
    """redis-py has swallowed a cancellation inside a read (8.2): the listener kept looping and
    a worker's shutdown hung. Closing now stops the loops and returns."""
    from redis.asyncio.client import PubSub

    original = PubSub.get_message

    async def swallowing(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except asyncio.CancelledError:
            return None

    monkeypatch.setattr(PubSub, "get_message", swallowing)
    bus = RedisBus(redis_url)
    await bus.start()
    await bus.subscribe(f"test:{uuid.uuid4().hex}", lambda data: None)
    await asyncio.wait_for(bus.close(), timeout=30)
    assert bus._tasks == []
