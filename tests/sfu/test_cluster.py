"""Placement and ownership in a real Redis: heartbeats, the least loaded node, one live owner
per room, and a room moving when its owner's heartbeat is gone; all of it also on a Redis in
cluster mode, and every key a script touches declared in its KEYS."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from sfu.cluster import ALIVE_KEY, NODES_KEY, ROOM_KEY, NodeDirectory, RoomLeases
from tests.support.ports import free_port, port_answers
from tests.support.servers import RedisServer, stop_process


@pytest.fixture
def cluster_redis(tmp_path: Path) -> Iterator[str]:
    """A one-node Redis Cluster holding every slot: a script touching a key of another slot
    than its declared keys fails ("do not hash to the same slot"), as MGET across slots does."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make test installs it)")
    port = free_port()
    workdir = tmp_path / "redis-cluster"
    workdir.mkdir()
    options = {
        "port": port,
        "bind": "127.0.0.1",
        "save": "",
        "appendonly": "no",
        "dir": workdir,
        "cluster-enabled": "yes",
        "cluster-config-file": workdir / "nodes.conf",
        # Its bus port, by default the port + 10000: past 65535 for a high free port.
        "cluster-port": free_port(),
    }
    process = subprocess.Popen(
        [binary, *(part for name, value in options.items() for part in (f"--{name}", str(value)))],
        stdout=(workdir / "log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_answers(port):
            if time.monotonic() > deadline or process.poll() is not None:
                log = (workdir / "log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server (cluster mode) did not start:\n{log}")
            time.sleep(0.05)
        admin = redis.Redis(port=port)
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        while b"cluster_state:ok" not in admin.execute_command("CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise RuntimeError("the one-node cluster did not come up")
            time.sleep(0.05)
        admin.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


@pytest.fixture(params=["standalone", "cluster"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Redis]:
    url = (
        request.getfixturevalue("private_redis").url
        if request.param == "standalone"
        else request.getfixturevalue("cluster_redis")
    )
    client = Redis.from_url(url)
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


_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')


async def test_scripts_touch_only_the_keys_they_declare(private_redis: RedisServer) -> None:
    """Every command a lease script runs (seen with MONITOR) names only keys of its KEYS."""
    client = Redis.from_url(private_redis.url)
    monitor = client.monitor()
    await monitor.connect()
    await monitor.connection.send_command("MONITOR")
    assert await monitor.connection.read_response() == b"OK"
    directory = NodeDirectory(client)
    for node in ("a", "b"):
        await directory.beat(node, "standalone", rooms=0, participants=0)
    web = RoomLeases(client, "web")
    assert await web.claim("meet", "a") == "a"  # no owner: the candidate's heartbeat
    assert await web.claim("meet", "b") == "a"  # a live owner: the owner's heartbeat
    await directory.forget("a")
    assert await web.claim("meet", "b") == "b"  # a dead owner: both heartbeats
    assert await web.live_owner("gone") is None
    assert await RoomLeases(client, "b").renew("meet")
    await RoomLeases(client, "b").release("meet")
    await client.echo("the end")

    declared: list[bytes] = []
    touched: list[tuple[list[bytes], list[bytes]]] = []  # (declared keys, keys of a command)
    scripts = 0
    while True:
        line = await monitor.connection.read_response()
        args = [re.sub(rb"\\(.)", rb"\1", a) for a in _ARG.findall(line)]
        if b"] " not in line or not args:
            continue
        if args[0].upper() == b"ECHO" and args[1:] == [b"the end"]:
            break
        if b" [0 lua] " in line:
            keys = await client.command_getkeys(*args)
            touched.append((declared, [k if isinstance(k, bytes) else k.encode() for k in keys]))
        elif args[0].upper() in (b"EVAL", b"EVALSHA"):
            scripts += 1
            declared = args[3 : 3 + int(args[2])]
    await monitor.connection.disconnect()
    await client.aclose()
    assert scripts == 6
    assert touched
    for keys_of_script, keys in touched:
        assert set(keys) <= set(keys_of_script), (keys, keys_of_script)
    # The heartbeats read by the claims were among them.
    heartbeats = {k for _, keys in touched for k in keys if k.startswith(ALIVE_KEY.encode())}
    assert heartbeats == {(ALIVE_KEY + "a").encode(), (ALIVE_KEY + "b").encode()}


def test_every_key_shares_one_hash_tag() -> None:
    """One Redis Cluster slot for all of them (the hash tag is the text in the first {})."""
    tags = {re.search(r"\{([^}]*)\}", k).group(1) for k in (ROOM_KEY, ALIVE_KEY, NODES_KEY)}  # type: ignore[union-attr]
    assert tags == {"atelier-sfu"}
