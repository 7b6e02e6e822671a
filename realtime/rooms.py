"""Rooms in memory: load on first use, share between connections, unload when idle.

This is the I/O shell around `room.DocumentRoom`: it executes the room's actions —
sending to connections, publishing on the bus, appending to the store — and runs the
timers (awareness expiry, idle unload). One `DocumentRooms` per worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from plumbing.bus import Bus
from plumbing.wsframe import DirectSocket, binary_frame
from realtime.room import Action, Broadcast, Close, DocumentRoom, Persist, Publish, Send
from realtime.store import DocumentStore

log = logging.getLogger("atelier.rooms")

SendBytes = Callable[[bytes], Awaitable[None]]
CHANNEL_PREFIX = "atelier:doc:"
CloseSocket = Callable[[int, str], Awaitable[None]]


def document_channel(name: str) -> str:
    """The bus channel of one document."""
    return CHANNEL_PREFIX + name


@dataclass(frozen=True)
class RoomLimits:
    """Limits a room and its connections enforce (from settings)."""

    max_document_bytes: int = 64 * 2**20
    send_buffer_bytes: int = 8 * 2**20
    room_idle_seconds: float = 10.0


class Connection:
    """One client socket.

    With a `DirectSocket` (under `atelier serve`), messages go straight onto the socket as
    frames built once per broadcast. Otherwise (another ASGI server, the test client) they wait
    in a queue drained by a writer task through ASGI `send`. Either way a client whose backlog
    passes `max_buffer_bytes` is dropped with 1013: it resyncs when it reconnects, and the room
    never waits for it.
    """

    def __init__(
        self,
        conn_id: int,
        send: SendBytes,
        close: CloseSocket,
        *,
        max_buffer_bytes: int,
        direct: DirectSocket | None = None,
    ) -> None:
        self.id = conn_id
        self.direct = direct
        self._send = send
        self._close = close
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._max_bytes = max_buffer_bytes
        self._wakeup = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self.closed = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._transport = None if direct is None else direct.transport
        if direct is None:
            self._writer = asyncio.create_task(self._write(), name=f"conn-{conn_id}-writer")

    def enqueue(self, data: bytes, frame: bytes | None = None) -> None:
        """Send `data`; `frame` is `binary_frame(data)` when the caller already built it."""
        if self._closing is not None:
            return
        transport = self._transport
        if transport is not None:
            if transport.is_closing():
                return
            if transport.get_write_buffer_size() > self._max_bytes:
                self._too_slow()
            else:
                transport.write(frame if frame is not None else binary_frame(data))
            return
        if self._queued_bytes > self._max_bytes:
            self._too_slow()
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._wakeup.set()

    def _too_slow(self) -> None:
        # A client that cannot keep up is dropped rather than slowing the room;
        # its provider reconnects and resyncs.
        log.warning("connection %d: send backlog full, dropping a slow client", self.id)
        self.close(1013, "too slow: reconnect to resync")

    @property
    def closing(self) -> bool:
        return self._closing is not None

    def close(self, code: int, reason: str) -> None:
        if self._closing is not None:
            return
        self._closing = (code, reason[:120])
        if self.direct is not None:
            self.direct.close_now(*self._closing)
            self.closed.set()
            return
        self._queue.clear()
        self._queued_bytes = 0
        self._wakeup.set()

    async def _write(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue and self._closing is None:
                    data = self._queue.popleft()
                    self._queued_bytes -= len(data)
                    await self._send(data)
                if self._closing is not None:
                    code, reason = self._closing
                    with contextlib.suppress(Exception):
                        await self._close(code, reason)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # The socket went away; the reader side notices and leaves the room.
            return
        finally:
            self.closed.set()

    async def stop(self) -> None:
        if self._writer is None:
            self.closed.set()
            return
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer


class _LoadedRoom:
    def __init__(self, room: DocumentRoom) -> None:
        self.room = room
        self.connections: dict[int, Connection] = {}
        self.idle_since: float | None = None


class DocumentRooms:
    """All documents this worker has in memory."""

    def __init__(
        self,
        store: DocumentStore,
        bus: Bus,
        limits: RoomLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._bus = bus
        self._limits = limits
        self._clock = clock
        self._rooms: dict[str, _LoadedRoom] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        self._timer: asyncio.Task[None] | None = None
        self._next_id = 0
        self.closed_for_input = 0
        self._changed: set[str] = set()
        bus.add_reconnect_callback(self.catch_up_all)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._timer = asyncio.create_task(self._run_timers(), name="rooms-timers")

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        for loaded in list(self._rooms.values()):
            for conn in list(loaded.connections.values()):
                conn.close(1012, "server restarting: reconnect shortly")
        waits = [c.closed.wait() for r in self._rooms.values() for c in r.connections.values()]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), timeout=2)
        for name in list(self._rooms):
            await self._unload(name)

    @property
    def loaded(self) -> list[str]:
        return list(self._rooms)

    def new_connection(
        self,
        send: SendBytes,
        close: CloseSocket,
        *,
        direct: DirectSocket | None = None,
    ) -> Connection:
        self._next_id += 1
        return Connection(
            self._next_id,
            send,
            close,
            max_buffer_bytes=self._limits.send_buffer_bytes,
            direct=direct,
        )

    # -- connections -----------------------------------------------------------------

    async def join(self, name: str, conn: Connection, *, writable: bool) -> None:
        loaded = await self._get(name)
        loaded.connections[conn.id] = conn
        loaded.idle_since = None
        self._run(name, loaded, loaded.room.connect(conn.id, writable=writable, now=self._clock()))

    def receive(self, name: str, conn: Connection, data: bytes) -> None:
        loaded = self._rooms.get(name)
        if loaded is None or conn.id not in loaded.connections:
            return
        self._run(name, loaded, loaded.room.receive(conn.id, data, self._clock()))

    async def leave(self, name: str, conn: Connection) -> None:
        loaded = self._rooms.get(name)
        if loaded is not None and loaded.connections.pop(conn.id, None) is not None:
            self._run(name, loaded, loaded.room.disconnect(conn.id, self._clock()))
            if not loaded.connections:
                loaded.idle_since = self._clock()
                if self._limits.room_idle_seconds <= 0:
                    await self._unload(name)
        await conn.stop()

    def set_writable(self, name: str, conn: Connection, writable: bool) -> None:
        """Let an open connection write, or stop it from writing, without a reconnect."""
        loaded = self._rooms.get(name)
        if loaded is not None and conn.id in loaded.connections:
            self._run(name, loaded, loaded.room.set_writable(conn.id, writable))

    def document_revision(self, name: str) -> int | None:
        """A number that changes whenever document `name` does (None: not loaded here)."""
        loaded = self._rooms.get(name)
        return None if loaded is None else loaded.room.revision

    def document_state(self, name: str) -> bytes | None:
        loaded = self._rooms.get(name)
        return None if loaded is None else loaded.room.encode_state()

    async def apply_server_change(self, name: str, make_update: Callable[[bytes], bytes]) -> None:
        """Apply a change the server makes to document `name` (loaded if needed).

        `make_update` gets the whole current state and returns a Yjs update; nothing else
        runs in between, so the change is built on exactly the state it is applied to. It is
        sent to every local connection, published to other workers and stored once.
        """
        loaded = await self._get(name)
        update = make_update(loaded.room.encode_state())
        self._run(name, loaded, loaded.room.apply_server_update(update, self._clock()))
        if not loaded.connections and loaded.idle_since is None:
            loaded.idle_since = self._clock()  # loaded for this change only: unload later

    def take_changed(self) -> set[str]:
        """Documents that took changes from this worker's clients since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def close_connections(
        self, predicate: Callable[[str, Connection], bool], code: int, reason: str
    ) -> int:
        """Close every connection for which predicate(document, connection) holds."""
        count = 0
        for name, loaded in self._rooms.items():
            for conn in loaded.connections.values():
                if predicate(name, conn):
                    conn.close(code, reason)
                    count += 1
        return count

    # -- loading and unloading -------------------------------------------------------

    async def _get(self, name: str) -> _LoadedRoom:
        loaded = self._rooms.get(name)
        if loaded is not None:
            return loaded
        lock = self._loading.setdefault(name, asyncio.Lock())
        async with lock:
            loaded = self._rooms.get(name)
            if loaded is not None:
                return loaded
            pending: list[bytes] = []
            channel = document_channel(name)
            # Subscribe before loading so nothing published meanwhile is missed.
            await self._bus.subscribe(channel, pending.append)
            try:
                initial = await self._store.load(name)
                room = DocumentRoom(
                    name,
                    initial_update=initial,
                    max_document_size=self._limits.max_document_bytes,
                )
            except BaseException:
                await self._bus.unsubscribe(channel)
                raise
            loaded = _LoadedRoom(room)
            self._rooms[name] = loaded
            await self._bus.subscribe(channel, lambda data: self._on_bus(name, data))
            for data in pending:
                self._on_bus(name, data)
            # Ask peer workers for what they hold and have not stored yet.
            self._run(name, loaded, room.bus_hello())
        self._loading.pop(name, None)
        return loaded

    async def _unload(self, name: str) -> None:
        loaded = self._rooms.pop(name, None)
        if loaded is None:
            return
        await self._bus.unsubscribe(document_channel(name))
        for conn in loaded.connections.values():
            await conn.stop()

    def _on_bus(self, name: str, data: bytes) -> None:
        loaded = self._rooms.get(name)
        if loaded is not None:
            self._run(name, loaded, loaded.room.receive_remote(data, self._clock()))

    async def catch_up_all(self) -> None:
        """After a bus outage: bring every room up to date with storage."""
        for name in list(self._rooms):
            update = await self._store.load(name)
            loaded = self._rooms.get(name)
            if loaded is not None:
                actions = loaded.room.catch_up(update, self._clock())
                self._run(name, loaded, [*actions, *loaded.room.bus_hello()])

    # -- timers ----------------------------------------------------------------------

    async def _run_timers(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self._clock()
            for name, loaded in list(self._rooms.items()):
                try:
                    self._run(name, loaded, loaded.room.tick(now))
                except Exception:
                    log.exception("room %s: timer failed", name)
                if (
                    not loaded.connections
                    and loaded.idle_since is not None
                    and now - loaded.idle_since >= self._limits.room_idle_seconds
                ):
                    await self._unload(name)

    # -- actions ---------------------------------------------------------------------

    def _run(self, name: str, loaded: _LoadedRoom, actions: Iterable[Action]) -> None:
        connections = loaded.connections
        for action in actions:
            if isinstance(action, Broadcast):
                if connections and (len(connections) > 1 or action.exclude not in connections):
                    # One frame for every direct socket: servers do not mask.
                    frame = binary_frame(action.data)
                    for conn_id, conn in connections.items():
                        if conn_id != action.exclude:
                            conn.enqueue(action.data, frame)
            elif isinstance(action, Send):
                target = connections.get(action.conn)
                if target is not None:
                    target.enqueue(action.data)
            elif isinstance(action, Persist):
                self._store.append(name, action.update)
                self._changed.add(name)
            elif isinstance(action, Publish):
                self._bus.publish(document_channel(name), action.data)
            elif isinstance(action, Close):
                target = connections.get(action.conn)
                if target is not None:
                    self.closed_for_input += 1
                    log.warning(
                        "document %s: closing connection %d (%d): %s",
                        name,
                        action.conn,
                        action.code,
                        action.reason,
                    )
                    target.close(action.code, action.reason)
