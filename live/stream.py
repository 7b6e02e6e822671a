"""The live stream's I/O shell: the `/live` WebSocket, this worker's hub, publishing.

`LiveStream.publish` appends an event to the log (in process, or the Redis Stream every worker
reads); each worker's log hands it to the hub, which gives it to the sessions of this worker that
follow its topic. Each connection runs a `Session` (the sans-I/O core): this module executes its
actions — sends, authorisations through the web app's hook, replays from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from live.log import EventLog
from live.protocol import Event
from live.session import (
    Action,
    Authorize,
    Close,
    Follow,
    Replay,
    Send,
    Session,
    Unfollow,
)
from plumbing.ratelimit import TokenBucket
from plumbing.sockets import LiveSockets
from plumbing.websocket import close, websocket_session

log = logging.getLogger("atelier.live")

# What one connection may have waiting to be sent; past it, it is closed and comes back with
# its last id (it loses nothing).
SEND_QUEUE = 2_000
TOO_SLOW = 1013
SIGNED_OUT = 4401


@dataclass(frozen=True)
class Viewer:
    """Who a `/live` connection is, as the web app says.

    `own_topics` it always follows (its own notifications); `may_follow(topic)` answers each
    subscription; `still_allowed()` is asked when its access may have changed (None: always).
    """

    own_topics: frozenset[str]
    tags: frozenset[str]
    may_follow: Callable[[str], Awaitable[bool]] = field(compare=False)
    still_allowed: Callable[[], Awaitable[bool]] | None = field(default=None, compare=False)


Authorizer = Callable[[WebSocket], Awaitable[Viewer]]


@dataclass(frozen=True)
class LiveLimits:
    rate_messages: float = 20.0
    rate_burst: float = 200.0


class _Connection:
    """One `/live` socket: its session, its outgoing queue and its writer."""

    def __init__(self, stream: LiveStream, websocket: WebSocket, viewer: Viewer) -> None:
        self.stream = stream
        self.websocket = websocket
        self.viewer = viewer
        self.session = Session(viewer.own_topics)
        self.tags = viewer.tags
        self.outgoing: asyncio.Queue[str | tuple[int, str] | None] = asyncio.Queue()
        self.closing = False
        self.tasks: set[asyncio.Task[None]] = set()

    # -- the session's actions ---------------------------------------------------------------

    def run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                if self.outgoing.qsize() >= SEND_QUEUE:
                    self.close(TOO_SLOW, "too slow to read the live stream: reconnect")
                    return
                if not self.closing:
                    self.outgoing.put_nowait(action.text)
            elif isinstance(action, Follow):
                self.stream.hub.follow(action.topic, self)
            elif isinstance(action, Unfollow):
                self.stream.hub.unfollow(action.topic, self)
            elif isinstance(action, Authorize):
                self.spawn(self._authorize(action.topic))
            elif isinstance(action, Replay):
                self.spawn(self._replay(action))
            else:
                assert isinstance(action, Close)
                self.close(action.code, action.reason)

    def spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live: a connection's task failed", exc_info=task.exception())
            self.close(1011, "internal error")

    async def _authorize(self, topic: str) -> None:
        allowed = await self.viewer.may_follow(topic)
        self.run(self.session.authorized(topic, allowed))

    async def _replay(self, replay: Replay) -> None:
        log_ = self.stream.log
        head = await log_.head()
        events: list[Event] | None = []
        if replay.after is not None:
            events = await log_.since(replay.after, replay.topics)
        self.run(self.session.replayed(events, head))

    def deliver(self, event: Event) -> None:
        self.run(self.session.deliver(event))

    # -- the registry of live sockets ------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.outgoing.put_nowait((code, reason))

    async def recheck(self, reason: str) -> None:
        still = self.viewer.still_allowed
        if still is not None and not await still():
            self.close(SIGNED_OUT, reason)
            return
        for topic in sorted(self.session.topics - self.session.own_topics):
            if not await self.viewer.may_follow(topic):
                self.run(self.session.revoke(topic))


class Hub:
    """This worker's connections by topic."""

    def __init__(self) -> None:
        self._by_topic: dict[str, set[_Connection]] = {}

    def follow(self, topic: str, connection: _Connection) -> None:
        self._by_topic.setdefault(topic, set()).add(connection)

    def unfollow(self, topic: str, connection: _Connection) -> None:
        followers = self._by_topic.get(topic)
        if followers is not None:
            followers.discard(connection)
            if not followers:
                del self._by_topic[topic]

    def leave(self, connection: _Connection) -> None:
        for topic in list(connection.session.topics):
            self.unfollow(topic, connection)

    def dispatch(self, event: Event) -> None:
        for connection in list(self._by_topic.get(event.topic, ())):
            connection.deliver(event)

    @property
    def followed(self) -> int:
        return len(self._by_topic)


class LiveStream:
    """The live stream of this worker: publish into it, serve `/live` from it."""

    def __init__(
        self,
        log: EventLog,
        authorize: Authorizer,
        sockets: LiveSockets | None = None,
        limits: LiveLimits | None = None,
    ) -> None:
        self.log = log
        self.hub = Hub()
        self._authorize = authorize
        self._sockets = sockets if sockets is not None else LiveSockets()
        self._limits = limits or LiveLimits()
        self.connections = 0
        log.on_event(self.hub.dispatch)

    async def start(self) -> None:
        await self.log.start()

    async def close(self) -> None:
        await self.log.close()

    async def publish(self, topic: str, kind: str, data: Mapping[str, Any]) -> Event:
        """Tell everyone who follows `topic`, on every worker."""
        return await self.log.append(topic, kind, data)

    async def handle(self, websocket: WebSocket) -> None:
        await websocket_session(websocket, what="live stream", session=self._session, log=log)

    async def _session(self, websocket: WebSocket, _name: str) -> None:
        viewer = await self._authorize(websocket)  # a SocketRefused closes with its code
        connection = _Connection(self, websocket, viewer)
        writer = asyncio.create_task(self._write(connection))
        self._sockets.add(connection)
        self.connections += 1
        bucket = TokenBucket(self._limits.rate_messages, self._limits.rate_burst, time.monotonic())
        try:
            connection.run(connection.session.start())
            while not connection.closing:
                receive = asyncio.ensure_future(websocket.receive())
                # The writer ends when the connection is to close: stop reading then.
                done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    with contextlib.suppress(BaseException):
                        await receive
                    break
                message = receive.result()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    connection.close(1003, "send JSON text frames")
                elif not bucket.take(time.monotonic()):
                    connection.close(1008, "too many messages: slow down")
                else:
                    connection.run(connection.session.receive(text))
        except RuntimeError:  # receiving after the connection closed under us
            pass
        finally:
            self.connections -= 1
            self._sockets.discard(connection)
            self.hub.leave(connection)
            for task in list(connection.tasks):
                task.cancel()
            connection.outgoing.put_nowait(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), timeout=1.0)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    async def _write(self, connection: _Connection) -> None:
        websocket = connection.websocket
        with contextlib.suppress(Exception):
            while True:
                item = await connection.outgoing.get()
                if item is None:
                    return
                if isinstance(item, tuple):
                    await close(websocket, *item)
                    return
                await websocket.send_text(item)
