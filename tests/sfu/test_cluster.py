"""Placement and ownership in a real Redis: heartbeats, the least loaded node, one live owner
per room, and a room moving when its owner's heartbeat is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from sfu.cluster import ALIVE_KEY, NODES_KEY, ROOM_KEY, NodeDirectory, RoomLeases
from tests.support import RedisServer


@pytest.fixture
async def client(private_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


async def test_new_rooms_go_to_the_least_loaded_live_node(client: Redis) -> None:
    directory = NodeDirectory(client)
    assert await directory.least_loaded() is None
    await directory.beat("busy", "standalone", rooms=3, participants=40)
    await directory.beat("idle", "standalone", rooms=5, participants=12)
    await directory.beat("web", "signaling", rooms=0, participants=0)  # never a candidate
    assert await directory.least_loaded() == "idle"
    assert await directory.alive({"busy", "web", "nobody"}) == {"busy", "web"}
    # A node whose heartbeat expired leaves the set on the next look.
    await client.delete(ALIVE_KEY + "idle")
    assert await directory.least_loaded() == "busy"
    assert await client.smembers(NODES_KEY) == {b"busy"}
    await directory.withdraw("busy")
    assert await directory.least_loaded() is None
    assert await directory.alive({"busy"}) == {"busy"}  # still beating while it stops
    await directory.forget("busy")
    assert await directory.alive({"busy"}) == set()


async def test_a_room_has_one_live_owner_and_moves_when_it_dies(client: Redis) -> None:
    directory = NodeDirectory(client)
    for node in ("a", "b"):
        await directory.beat(node, "standalone", rooms=0, participants=0)
    web = RoomLeases(client, "web")
    assert await web.live_owner("meet-x") is None
    assert await web.claim("meet-x", "a") == "a"
    assert await web.claim("meet-x", "b") == "a"  # a is alive: it stays the owner
    assert await web.claim("meet-x", "ghost") == "a"
    assert await web.claim("meet-y", "ghost") is None  # no heartbeat: never an owner
    assert await client.exists(ROOM_KEY + "meet-y") == 0

    owner = RoomLeases(client, "a")
    assert await owner.renew("meet-x")
    assert not await RoomLeases(client, "b").renew("meet-x")

    await directory.forget("a")  # a died: the next join moves the room
    assert await web.live_owner("meet-x") is None
    assert await web.claim("meet-x", "b") == "b"
    assert not await owner.renew("meet-x")  # a's lease is gone for good
    await owner.release("meet-x")  # a stale owner cannot release b's lease
    assert await client.get(ROOM_KEY + "meet-x") == b"b"
    assert 0 < await client.pttl(ROOM_KEY + "meet-x") <= 15_000
    await RoomLeases(client, "b").release("meet-x")
    assert await client.exists(ROOM_KEY + "meet-x") == 0
