"""Several `atelier serve` processes sharing a database and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.support.servers import AtelierServer, RedisServer
from tests.support.waiting import eventually
from tests.support.yjs import YjsClients

Start = Callable[..., AtelierServer]


def all_stored(*servers: AtelierServer) -> bool:
    """Whether every server's store has committed all it was given."""
    return all(server.health()["store"]["updates_pending"] == 0 for server in servers)


def committed_since(server: AtelierServer, commits: int) -> dict[str, int] | None:
    """The server's store figures once it has committed again since `commits`."""
    figures: dict[str, int] = server.health()["store"]
    return figures if figures["commits"] > commits and not figures["updates_pending"] else None


def two_workers(atelier: Start, tmp_path: Path, redis_url: str) -> tuple[AtelierServer, ...]:
    """Two `atelier serve` processes sharing one data folder (database) and one Redis."""
    shared = tmp_path / "shared"
    return atelier(shared, REDIS_URL=redis_url), atelier(shared, REDIS_URL=redis_url)


async def test_clients_on_two_servers_with_redis_edit_the_same_document_live(
    atelier: Start, yjs: YjsClients, redis_url: str, tmp_path: Path, unique: str
) -> None:
    one, two = two_workers(atelier, tmp_path, redis_url)
    token = one.token("")
    doc = f"live-{unique}"
    await yjs("open", client="a", url=one.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="b", url=two.sync_url, doc=doc, params={"token": token})
    await yjs("insert", client="a", text="from one. ")
    await yjs("wait_contains", client="b", text="from one.")
    await yjs("insert", client="b", text="from two. ")
    await yjs("wait_contains", client="a", text="from two.")
    await asyncio.gather(
        *(yjs("insert", client=c, index=0, text=f"[{c}{i}]") for i in range(15) for c in "ab")
    )
    for c in "ab":
        await yjs("wait_contains", client=c, text="[a14]")
        await yjs("wait_contains", client=c, text="[b14]")
    text = (await yjs("text", client="a"))["text"]
    await yjs("wait_text", client="b", text=text)

    # Presence crosses workers too.
    await yjs("awareness", client="b", state={"user": {"name": "on two"}})
    peers = (await yjs("wait_peers", client="a", count=1))["peers"]
    assert peers[0]["state"]["user"]["name"] == "on two"

    # Each update was stored once: a cold start of either server shows the same text.
    await yjs("close", client="a")
    await yjs("close", client="b")
    one.stop()
    two.stop()
    one.start()
    await yjs("open", client="c", url=one.sync_url, doc=doc, params={"token": token})
    assert (await yjs("text", client="c"))["text"] == text


async def test_a_client_joining_late_on_another_worker_gets_everything(
    atelier: Start, yjs: YjsClients, redis_url: str, tmp_path: Path, unique: str
) -> None:
    one, two = two_workers(atelier, tmp_path, redis_url)
    token = one.token("")
    doc = f"late-{unique}"
    await yjs("open", client="a", url=one.sync_url, doc=doc, params={"token": token})
    for i in range(30):
        await yjs("insert", client="a", text=f"{i},")
    # No pause: some of these may not be committed yet when `b` loads the room on `two`.
    await yjs("open", client="b", url=two.sync_url, doc=doc, params={"token": token})
    expected = "".join(f"{i}," for i in range(30))
    await yjs("wait_text", client="b", text=expected)


async def test_after_a_redis_restart_rooms_catch_up_and_nothing_is_lost(
    atelier: Start, yjs: YjsClients, private_redis: RedisServer, tmp_path: Path, unique: str
) -> None:
    one, two = two_workers(atelier, tmp_path, private_redis.url)
    token = one.token("")
    doc = f"outage-{unique}"
    await yjs("open", client="a", url=one.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="b", url=two.sync_url, doc=doc, params={"token": token})
    await yjs("insert", client="a", text="before. ")
    await yjs("wait_contains", client="b", text="before.")
    await eventually(lambda: all_stored(one, two), what="the workers to commit")
    commits = {server: server.health()["store"]["commits"] for server in (one, two)}

    private_redis.stop()
    await yjs("insert", client="a", text="during-a. ")
    await yjs("insert", client="b", text="during-b. ")
    # Each worker stored its client's edit, which the other could not hear of.
    for server in (one, two):
        await eventually(
            lambda s=server: committed_since(s, commits[s]), what="the edit made during the outage"
        )
    private_redis.start()

    # Both workers resubscribe and catch up from storage; both clients converge.
    await yjs("wait_contains", client="b", text="during-a.", timeout=20)
    await yjs("wait_contains", client="a", text="during-b.", timeout=20)
    await yjs("insert", client="a", text="after. ")
    await yjs("wait_contains", client="b", text="after.", timeout=10)
    text = (await yjs("text", client="a"))["text"]
    await yjs("wait_text", client="b", text=text)


async def test_each_update_is_published_once_and_stored_once(
    atelier: Start, yjs: YjsClients, redis_url: str, tmp_path: Path, unique: str
) -> None:
    import sqlite3

    import redis.asyncio as aioredis

    one, two = two_workers(atelier, tmp_path, redis_url)
    token = one.token("")
    doc = f"once-{unique}"
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(f"atelier:doc:{doc}")
    await yjs("open", client="a", url=one.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="b", url=two.sync_url, doc=doc, params={"token": token})
    for i in range(10):
        await yjs("insert", client="a", text=f"{i};")
    await yjs("wait_contains", client="b", text="9;")
    # Each client's presence, sent once the edits went through its worker, is published after
    # whatever that worker published of them: read the channel up to both.
    await yjs("awareness", client="a", state={"user": {"name": "a-ensuite"}})
    await yjs("awareness", client="b", state={"user": {"name": "b-ensuite"}})
    updates: list[bytes] = []
    awaited = {b"a-ensuite", b"b-ensuite"}
    async with asyncio.timeout(10):
        while awaited:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            data = message["data"] if message else b""
            if data[16:18] == b"\x00\x02":
                updates.append(data)
            awaited = {marker for marker in awaited if marker not in data}
    await pubsub.aclose()
    await client.aclose()
    # One publication per keystroke, all from the worker whose client typed it.
    assert len(updates) == 10
    assert len({u[:16] for u in updates}) == 1

    await eventually(lambda: all_stored(one, two), what="the workers to commit")
    with sqlite3.connect(one.data_dir / "atelier.db") as db:
        (rows,) = db.execute(
            "SELECT count(*) FROM document_updates WHERE name = ?", (doc,)
        ).fetchone()
    assert rows == 10


async def test_one_server_with_several_workers_and_redis_serves_one_document(
    atelier: Start, yjs: YjsClients, redis_url: str, unique: str
) -> None:
    server = atelier(REDIS_URL=redis_url, ATELIER_WORKERS="2")
    token = server.token("")
    doc = f"workers-{unique}"
    names = [f"c{i}" for i in range(6)]  # spread over both workers by the kernel
    for name in names:
        await yjs("open", client=name, url=server.sync_url, doc=doc, params={"token": token})
    for name in names:
        await yjs("insert", client=name, text=f"[{name}]")
    for name in names:
        for other in names:
            await yjs("wait_contains", client=name, text=f"[{other}]")
