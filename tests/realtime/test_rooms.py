"""DocumentRooms in one process: lazy loading, idle unload, memory, and two workers on one bus."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Awaitable, Callable

import psutil
from pycrdt import Doc, Text

from plumbing.bus import Bus, InProcessBus
from realtime.rooms import Connection, DocumentRooms, RoomLimits
from realtime.store import DocumentStore
from tests.support.sinks import Sink


def sync_update(text: str, client_doc: Doc | None = None) -> bytes:
    doc = client_doc or Doc()
    if "content" not in doc:
        doc["content"] = Text()
    before = doc.get_state()
    doc.get("content", type=Text).insert(0, text)
    update = doc.get_update(before)
    return b"\x00\x02" + bytes([len(update)]) + update if len(update) < 128 else _frame(update)


def _frame(update: bytes) -> bytes:
    n, out = len(update), bytearray(b"\x00\x02")
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + update


async def test_an_idle_document_is_unloaded_and_comes_back_from_storage(
    store: DocumentStore,
) -> None:
    rooms = DocumentRooms(store, InProcessBus(), RoomLimits(room_idle_seconds=0))
    await rooms.start()
    sink = Sink()
    conn = rooms.new_connection(sink.send, sink.close)
    await rooms.join("doc", conn, writable=True)
    rooms.receive("doc", conn, sync_update("hello"))
    await rooms.leave("doc", conn)
    assert rooms.loaded == []
    conn2 = rooms.new_connection(sink.send, sink.close)
    await rooms.join("doc", conn2, writable=True)
    state = rooms.document_state("doc")
    assert state is not None
    restored = Doc()
    restored.apply_update(state)
    assert str(restored.get("content", type=Text)) == "hello"
    await rooms.leave("doc", conn2)
    await rooms.close()


async def test_two_workers_on_one_bus_share_a_document(
    store: DocumentStore, worker_bus: Callable[[], Awaitable[Bus]], unique: str
) -> None:
    one = DocumentRooms(store, await worker_bus(), RoomLimits())
    two = DocumentRooms(store, await worker_bus(), RoomLimits())
    name = f"shared-{unique}"  # one Redis may serve other test runs: a channel of our own
    a, b = Sink(), Sink()
    conn_a = one.new_connection(a.send, a.close)
    conn_b = two.new_connection(b.send, b.close)
    await one.join(name, conn_a, writable=True)
    await two.join(name, conn_b, writable=True)
    # Once a change from two reaches one, each worker has heard the other arrive: what follows
    # can only travel as a published update.
    hello = sync_update("from two ")
    two.receive(name, conn_b, hello)
    await a.wait_for(lambda: hello in a.received)

    message = sync_update("hi from one")
    one.receive(name, conn_a, message)

    # The original bytes reach the other worker's client, and that worker's document.
    await b.wait_for(lambda: message in b.received)
    state = two.document_state(name)
    assert state is not None
    seen = Doc()
    seen.apply_update(state)
    assert "hi from one" in str(seen.get("content", type=Text))
    for rooms, conn in ((one, conn_a), (two, conn_b)):
        await rooms.leave(name, conn)
        await rooms.close()
    await store.flush()
    assert store.stats.committed_updates == 2  # each stored by the worker it came to, once


def _rss() -> int:
    gc.collect()
    try:  # give freed heap pages back to the system, as a long-running server would
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    return int(psutil.Process().memory_info().rss)


async def _open_and_close(rooms: DocumentRooms, count: int) -> int:
    conns: list[tuple[str, Connection]] = []
    for i in range(count):
        sink = Sink()
        conn = rooms.new_connection(sink.send, sink.close)
        name = f"mem-{i}"
        await rooms.join(name, conn, writable=True)
        rooms.receive(name, conn, sync_update(f"document {i} " * 20))
        conns.append((name, conn))
    peak = _rss()
    for name, conn in conns:
        await rooms.leave(name, conn)
    return peak


async def test_opening_and_closing_a_thousand_documents_returns_memory(
    store: DocumentStore,
) -> None:
    rooms = DocumentRooms(store, InProcessBus(), RoomLimits(room_idle_seconds=0))
    await _open_and_close(rooms, 1000)  # warm caches, SQLAlchemy, allocator arenas
    await store.flush()
    baseline = _rss()
    peak = await _open_and_close(rooms, 1000)
    assert rooms.loaded == []
    await store.flush()
    after = _rss()
    grown = peak - baseline
    assert grown > 0
    # Everything the thousand documents took is given back (allowing allocator slack).
    assert after - baseline < max(grown // 2, 8 * 2**20), (baseline, peak, after)
    await rooms.close()
