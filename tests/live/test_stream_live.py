"""The live stream through real WebSocket clients, on a real uvicorn, in memory and over Redis:
exactly once and in order after a reconnect, reload past the retention window, nothing of a
topic one may not follow, and events crossing workers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from live.log import EventLog, InProcessLog, RedisLog
from live.stream import LiveStream, Viewer
from plumbing.websocket import SocketRefused
from tests.support.ports import free_port

# Who may follow what, by the `?who=` a test client connects with.
ALLOWED = {"alice": {"item:page:1", "space:1"}, "bob": {"item:page:1", "item:page:2"}}


async def authorize(websocket: WebSocket) -> Viewer:
    who = websocket.query_params.get("who", "")
    if who not in ALLOWED:
        raise SocketRefused(4401, "who are you?")

    async def may_follow(topic: str) -> bool:
        return topic in ALLOWED[who]

    return Viewer(frozenset({f"user:{who}"}), frozenset({f"user:{who}"}), may_follow)


class Worker:
    """One worker process's live stream, served by uvicorn on loopback."""

    def __init__(self, log: EventLog) -> None:
        self.stream = LiveStream(log, authorize)
        self.port = free_port()
        app = Starlette(routes=[WebSocketRoute("/live", self.stream.handle)])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Worker:
        await self.stream.start()
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        await self.stream.close()

    def url(self, who: str) -> str:
        return f"ws://127.0.0.1:{self.port}/live?who={who}"


class Client:
    """A real WebSocket client speaking the live protocol."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: Any = None

    async def connect(
        self, last: str | None = None, topics: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        self.ws = await websockets.connect(self.url)
        await self.send({"type": "hello", "last": last, "topics": list(topics)})
        return await self.until("ready")

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), timeout=10)))

    async def until(self, kind: str) -> dict[str, Any]:
        """Read messages up to the first of `kind`; the events read meanwhile are kept."""
        self.events: list[dict[str, Any]] = []
        while True:
            message = await self.next()
            if message["type"] == kind:
                return message
            if message["type"] == "event":
                self.events.append(message)

    async def next_event(self) -> dict[str, Any]:
        message = await self.next()
        while message["type"] != "event":
            message = await self.next()
        return message

    async def close(self) -> None:
        await self.ws.close()


Factory = Callable[..., Awaitable[Worker]]


@pytest.fixture(params=["in-process", "redis"])
async def workers(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Factory]:
    """Start workers sharing one log: one in-process log, or one Redis Stream of this test."""
    stream_name = f"atelier:live:test:{uuid.uuid4().hex}"
    shared: list[InProcessLog] = []
    started: list[Worker] = []

    async def start(retention: int = 100_000) -> Worker:
        log: EventLog
        if request.param == "redis":
            log = RedisLog(redis_url, retention=retention, stream=stream_name)
        else:
            if not shared:
                shared.append(InProcessLog(retention))
            log = shared[0]
        worker = await Worker(log).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        await worker.stop()


async def publish(worker: Worker, topic: str, n: int) -> str:
    return (await worker.stream.publish(topic, "test", {"n": n})).id


async def test_a_client_cut_off_gets_everything_it_missed_once_and_in_order(
    workers: Factory,
) -> None:
    worker = await workers()
    alice = Client(worker.url("alice"))
    await alice.connect(topics=("item:page:1",))
    assert (await alice.until("subscribed"))["topic"] == "item:page:1"
    for n in range(3):
        await publish(worker, "item:page:1", n)
    seen = [await alice.next_event() for _ in range(3)]
    assert [m["data"]["n"] for m in seen] == [0, 1, 2]
    await alice.close()

    # Away: 100 events of her page arrive, and others of a page she does not follow.
    for n in range(3, 103):
        await publish(worker, "item:page:1", n)
        if n % 10 == 0:
            await publish(worker, "item:page:2", n)
    ready = await alice.connect(last=seen[-1]["id"], topics=("item:page:1",))
    assert [m["data"]["n"] for m in alice.events] == list(range(3, 103))
    assert all(m["topic"] == "item:page:1" for m in alice.events)
    assert ready["last"] == alice.events[-1]["id"]
    # And then live again, each event once.
    await publish(worker, "item:page:1", 103)
    assert (await alice.next_event())["data"]["n"] == 103
    await alice.close()


async def test_a_client_past_the_retention_window_is_told_to_reload(workers: Factory) -> None:
    worker = await workers(retention=100)
    bob = Client(worker.url("bob"))
    await bob.connect(topics=("item:page:2",))
    first = await publish(worker, "item:page:2", 0)
    await bob.close()
    for n in range(1, 1000):  # far more than the stream keeps
        await publish(worker, "item:page:2", n)
    bob.ws = await websockets.connect(bob.url)
    await bob.send({"type": "hello", "last": first, "topics": ["item:page:2"]})
    assert (await bob.next())["type"] == "reload"
    await bob.until("ready")
    assert bob.events == []  # nothing replayed: the page is fetched again instead
    last = await publish(worker, "item:page:2", 1000)
    assert (await bob.next_event())["id"] == last  # and the stream goes on
    await bob.close()


async def test_a_topic_one_may_not_follow_is_refused_and_gives_nothing(workers: Factory) -> None:
    worker = await workers()
    alice = Client(worker.url("alice"))
    await alice.connect(topics=("item:page:2",))  # Bob's page, not hers
    assert alice.events == []
    await alice.send({"type": "subscribe", "topic": "item:page:2"})
    refused = await alice.next()
    assert refused == {"type": "refused", "topic": "item:page:2", "reason": "not found"}
    await publish(worker, "item:page:2", 1)
    # A later event of her own topic arrives: the forbidden one, published before, never did.
    await publish(worker, "user:alice", 2)
    assert (await alice.next_event())["topic"] == "user:alice"


async def test_an_event_published_on_one_worker_reaches_a_client_of_another(
    workers: Factory,
) -> None:
    one = await workers()
    two = await workers()
    bob = Client(two.url("bob"))
    await bob.connect(topics=("item:page:1",))
    await bob.until("subscribed")
    event_id = await publish(one, "item:page:1", 42)
    message = await bob.next_event()
    assert (message["id"], message["data"]) == (event_id, {"n": 42})
    await bob.close()


async def test_an_unknown_person_is_refused(workers: Factory) -> None:
    worker = await workers()
    async with websockets.connect(worker.url("mallory")) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
