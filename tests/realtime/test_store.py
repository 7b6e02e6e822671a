"""The document store on real SQLite files and a real PostgreSQL: durability, group commit,
compaction, several processes on one database, crashes and outages."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pycrdt
import pytest
from pycrdt import Doc, Map, Text
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

import realtime.store
from realtime.store import DocumentStore, StoreError
from realtime.tables import document_updates, documents
from tests.support.waiting import eventually
from web.database import create_engine, migrate

ROOT = Path(__file__).resolve().parents[2]

OpenEngine = Callable[[], AsyncEngine]


class Editor:
    """A pycrdt document standing in for a browser: every edit yields one Yjs update."""

    def __init__(self) -> None:
        self.doc = Doc()
        self.text = self.doc.get("text", type=Text)
        self.map = self.doc.get("map", type=Map)
        self.updates: list[bytes] = []
        self._subscription = self.doc.observe(lambda event: self.updates.append(event.update))

    def type(self, chunk: str) -> bytes:
        self.text += chunk
        return self.updates[-1]

    def set(self, key: str, value: int) -> bytes:
        self.map[key] = value
        return self.updates[-1]


def text_of(update: bytes) -> str:
    doc = Doc()
    if update:
        doc.apply_update(update)
    return str(doc.get("text", type=Text))


def map_of(update: bytes) -> dict[str, object]:
    doc = Doc()
    if update:
        doc.apply_update(update)
    return dict(doc.get("map", type=Map).to_py() or {})


async def log_rows(engine: AsyncEngine, name: str) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).where(document_updates.c.name == name)
        return int((await connection.execute(query)).scalar_one())


async def load_fresh(open_engine: OpenEngine, name: str) -> bytes:
    """Load through a new engine and store, as a restarted process would."""
    store = DocumentStore(open_engine())
    try:
        return await store.load(name)
    finally:
        await store.close()


async def test_flushed_updates_are_durable_and_load_rebuilds_the_text(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    store = DocumentStore(engine)
    await store.start()
    editor = Editor()
    for word in ["Hello", ", ", "world", "!"]:
        store.append("notes/hello", editor.type(word))
    await store.flush()

    assert store.stats.pending == 0
    assert text_of(await load_fresh(open_engine, "notes/hello")) == "Hello, world!"
    await store.close()


async def test_unknown_document_loads_empty(engine: AsyncEngine) -> None:
    store = DocumentStore(engine)
    assert await store.load("never/written") == b""
    await store.close()


async def test_load_right_after_append_sees_queued_updates(engine: AsyncEngine) -> None:
    store = DocumentStore(engine, commit_interval=60)
    await store.start()
    editor = Editor()
    store.append("doc", editor.type("committed "))
    await store.flush()
    store.append("doc", editor.type("queued"))

    assert store.stats.pending == 1
    assert text_of(await store.load("doc")) == "committed queued"
    await store.close()


async def test_loads_go_on_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    """A reconnect storm's loads must not wait for a writer (SQLite files read in WAL).

    SQLite only: PostgreSQL readers never wait for writers.
    """
    path = tmp_path / "atelier.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    store = DocumentStore(engine)
    editor = Editor()
    store.append("doc", editor.type("committed"))
    await store.flush()
    await store.compact("doc")
    store.append("doc", editor.type(" and logged"))
    await store.flush()

    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "INSERT INTO document_updates (name, data) VALUES (?, ?)",
            ("doc", Editor().type("uncommitted")),
        )
        loaded = await asyncio.wait_for(store.load("doc"), timeout=10)
        assert text_of(loaded) == "committed and logged"
    finally:
        other.execute("ROLLBACK")
        other.close()
    await store.close()
    await engine.dispose()


async def test_group_commit_writes_many_documents_in_a_handful_of_transactions(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    interval = 0.05
    store = DocumentStore(engine, commit_interval=interval)
    await store.start()
    editors = {f"doc-{i}": Editor() for i in range(20)}
    expected = {name: "" for name in editors}
    for n in range(25):
        for name, editor in editors.items():
            store.append(name, editor.type(f"{n},"))
            expected[name] += f"{n},"
    assert store.stats.pending == 500

    await eventually(lambda: store.stats.pending == 0, what="the group commits")

    assert store.stats.committed_updates == 500
    assert 1 <= store.stats.commits <= 3
    for name, content in expected.items():
        assert text_of(await load_fresh(open_engine, name)) == content
    await store.close()


async def test_close_commits_everything_pending(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    store = DocumentStore(engine, commit_interval=60)
    await store.start()
    editor = Editor()
    for i in range(50):
        store.append("shutdown", editor.type(f"{i} "))
    assert store.stats.commits == 0

    await store.close()

    assert store.stats.pending == 0
    expected = "".join(f"{i} " for i in range(50))
    assert text_of(await load_fresh(open_engine, "shutdown")) == expected
    with pytest.raises(StoreError):
        store.append("shutdown", editor.type("late"))


async def test_compaction_keeps_content_and_empties_the_log(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    store = DocumentStore(engine, compact_after=10_000)
    editor = Editor()
    for i in range(300):
        store.append("big", editor.type(f"<{i}>"))
    await store.flush()
    assert await log_rows(engine, "big") == 300
    before = text_of(await store.load("big"))

    await store.compact("big")

    assert await log_rows(engine, "big") == 0
    assert store.stats.compactions == 1
    assert text_of(await load_fresh(open_engine, "big")) == before
    # Later edits land in the log again and load on top of the snapshot.
    store.append("big", editor.type("<after>"))
    await store.flush()
    assert text_of(await load_fresh(open_engine, "big")) == before + "<after>"
    async with engine.connect() as connection:
        merged = await connection.scalar(
            select(documents.c.snapshot_updates).where(documents.c.name == "big")
        )
    assert merged == 300
    await store.close()


async def test_a_large_compaction_merges_in_a_process_of_its_own(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    """Large merges hold the GIL for long: they run in the merging process, same result."""
    store = DocumentStore(engine, compact_after=10_000, merge_in_process_bytes=1)
    editor = Editor()
    for i in range(50):
        store.append("large", editor.type(f"<{i}>"))
    await store.flush()
    await store.compact("large")
    merger = store._merger
    assert merger is not None  # the merge went to the process
    assert await log_rows(engine, "large") == 0

    # The merging process dies (out of memory, killed): the next compaction still succeeds.
    for process in list(merger._processes.values()):
        process.kill()
        process.join(10)
    store.append("large", editor.type("<after a crash>"))
    await store.flush()
    await store.compact("large")
    assert await log_rows(engine, "large") == 0
    expected = "".join(f"<{i}>" for i in range(50)) + "<after a crash>"
    assert text_of(await load_fresh(open_engine, "large")) == expected
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(documents.c.snapshot_updates, documents.c.updated_at).where(
                    documents.c.name == "large"
                )
            )
        ).one()
    assert row.snapshot_updates == 51
    assert isinstance(row.updated_at, datetime.datetime)
    await store.close()
    assert store._merger is None


@pytest.mark.parametrize("merge_in_process_bytes", [1, 1 << 30], ids=["process", "inline"])
async def test_an_unreadable_stored_update_costs_only_itself_at_load(
    engine: AsyncEngine, merge_in_process_bytes: int
) -> None:
    store = DocumentStore(engine, merge_in_process_bytes=merge_in_process_bytes)
    editor = Editor()
    store.append("scarred", editor.type("kept "))
    await store.flush()
    async with engine.begin() as connection:
        await connection.execute(
            document_updates.insert().values(name="scarred", data=b"\xff\x00garbage")
        )
    store.append("scarred", editor.type("and kept"))
    await store.flush()

    assert text_of(await store.load("scarred")) == "kept and kept"
    await store.close()


async def test_a_long_log_is_compacted_in_the_background(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    store = DocumentStore(engine, commit_interval=0.01, compact_after=50)
    await store.start()
    editor = Editor()
    for i in range(230):
        store.append("busy", editor.type(f"{i};"))
        if i % 10 == 9:  # a pause in the typing: the store commits what came
            await eventually(lambda: store.stats.pending == 0, what="a commit")
    await store.close()  # waits for running compactions

    assert store.stats.compactions >= 3
    assert await log_rows(engine, "busy") < 50
    assert text_of(await load_fresh(open_engine, "busy")) == "".join(f"{i};" for i in range(230))


async def test_a_large_document_is_compacted_in_proportion_to_its_size(
    engine: AsyncEngine, open_engine: OpenEngine
) -> None:
    # Merging holds the interpreter for time proportional to the snapshot: a big document
    # must not be re-merged after every few keystrokes, or every socket stalls meanwhile.
    store = DocumentStore(engine, commit_interval=0.01, compact_after=20)
    await store.start()
    editor = Editor()
    store.append("big", editor.type("x" * 200_000))
    await store.flush()
    await store.compact("big")
    before = store.stats.compactions
    for i in range(100):  # 100 keystrokes: far less than a quarter of the snapshot
        store.append("big", editor.type(f"{i % 10}"))
        if i % 10 == 9:  # a pause in the typing: the store commits what came
            await eventually(lambda: store.stats.pending == 0, what="a commit")
    await store.close()  # waits for the compactions it started, if any
    assert store.stats.compactions == before

    # The same store on the same log, and a close to wait: now the log passes a quarter of
    # the snapshot, and a compaction is seen.
    store = DocumentStore(engine, commit_interval=0.01, compact_after=20)
    await store.start()
    await store.load("big")  # the store learns the log's size as it loads the document
    for _ in range(12):
        store.append("big", editor.type("y" * 5_000))
    await eventually(lambda: store.stats.pending == 0, what="a commit")
    await store.close()
    assert store.stats.compactions >= 1
    assert len(text_of(await load_fresh(open_engine, "big"))) == 200_000 + 100 + 60_000


async def test_a_large_log_in_bytes_is_compacted_in_the_background(engine: AsyncEngine) -> None:
    store = DocumentStore(engine, commit_interval=0.01, compact_after=10_000, compact_bytes=20_000)
    await store.start()
    editor = Editor()
    for _ in range(10):
        store.append("heavy", editor.type("x" * 5_000))
    await eventually(lambda: store.stats.compactions, what="a compaction")
    await store.close()

    assert await log_rows(engine, "heavy") < 4


async def compaction_caught_merging(
    store: DocumentStore, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Task[None], threading.Event]:
    """Start a compaction and hold it after it has read the log, while it merges.

    Returns the compaction task and the event that lets it finish.
    """
    merging = threading.Event()
    release = threading.Event()
    real_merge = pycrdt.merge_updates

    def slow_merge(*updates: bytes) -> bytes:
        merging.set()
        assert release.wait(10), "test never released the compaction"
        return real_merge(*updates)

    monkeypatch.setattr(realtime.store, "merge_updates", slow_merge)
    task = asyncio.create_task(store.compact(name))
    assert await asyncio.to_thread(merging.wait, 10)
    monkeypatch.setattr(realtime.store, "merge_updates", real_merge)
    return task, release


async def test_updates_committed_during_a_compaction_survive_it(
    engine: AsyncEngine, open_engine: OpenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DocumentStore(engine, compact_after=10_000)
    editor = Editor()
    for i in range(20):
        store.append("race", editor.type(f"a{i} "))
    await store.flush()

    compaction, release = await compaction_caught_merging(store, "race", monkeypatch)

    # The compaction has read the log and is merging: these rows are newer than it knows.
    for i in range(5):
        store.append("race", editor.type(f"b{i} "))
    await store.flush()
    release.set()
    await compaction

    assert await log_rows(engine, "race") == 5
    expected = "".join(f"a{i} " for i in range(20)) + "".join(f"b{i} " for i in range(5))
    assert text_of(await load_fresh(open_engine, "race")) == expected
    await store.close()


async def test_a_compaction_that_lost_a_race_changes_nothing(
    engine: AsyncEngine, open_engine: OpenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = DocumentStore(engine, compact_after=10_000)
    second = DocumentStore(open_engine(), compact_after=10_000)
    editor = Editor()
    for i in range(10):
        first.append("contested", editor.type(f"{i} "))
    await first.flush()

    stalled, release = await compaction_caught_merging(first, "contested", monkeypatch)

    # Another process compacts and keeps editing while the first one is still merging.
    second.append("contested", editor.type("more"))
    await second.flush()
    await second.compact("contested")
    release.set()
    await stalled

    assert first.stats.compaction_conflicts >= 1
    expected = "".join(f"{i} " for i in range(10)) + "more"
    assert text_of(await load_fresh(open_engine, "contested")) == expected
    await first.close()
    await second.close()


async def test_two_processes_editing_and_compacting_one_document_lose_no_edit(
    open_engine: OpenEngine,
) -> None:
    stores = [
        DocumentStore(open_engine(), commit_interval=0.005, compact_after=15) for _ in range(2)
    ]
    for store in stores:
        await store.start()
    editors = [Editor(), Editor()]

    editing = [True, True]

    async def edit(index: int) -> None:
        store, editor = stores[index], editors[index]
        for i in range(150):
            store.append("shared", editor.set(f"p{index}-{i}", i))
            if i % 7 == 0:  # a pause in the typing: this process commits what came
                await eventually(lambda: store.stats.pending == 0, what="a commit")
            if i % 40 == 39:
                await store.compact("shared")
        editing[index] = False

    def commits() -> int:
        return sum(store.stats.commits for store in stores)

    async def compact_repeatedly() -> None:
        for _ in range(10):
            seen = commits()
            await asyncio.gather(*(store.compact("shared") for store in stores))
            # Again once there is something new to compact, or the editing is over.
            await eventually(lambda s=seen: commits() > s or not any(editing), what="edits")

    await asyncio.gather(edit(0), edit(1), compact_repeatedly())
    for store in stores:
        await store.close()

    assert sum(store.stats.compactions for store in stores) >= 2
    final = map_of(await load_fresh(open_engine, "shared"))
    expected = {f"p{index}-{i}": i for index in range(2) for i in range(150)}
    assert final == expected


async def test_content_flushed_before_a_sigkill_survives(
    database_url: str, open_engine: OpenEngine
) -> None:
    editor = Editor()
    updates = [editor.type(word) for word in ["killed ", "after ", "flush"]]
    script = textwrap.dedent(
        """
        import asyncio, os, sys
        from realtime.store import DocumentStore
        from web.database import create_engine

        async def main():
            store = DocumentStore(create_engine(sys.argv[1]), commit_interval=60)
            await store.start()
            for hex_update in sys.argv[2:]:
                store.append("crash", bytes.fromhex(hex_update))
            await store.flush()
            os.kill(os.getpid(), 9)

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        database_url,
        *(update.hex() for update in updates),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == -9, stderr.decode()
    assert text_of(await load_fresh(open_engine, "crash")) == "killed after flush"


async def _rename_log_table(engine: AsyncEngine, old: str, new: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_a_failing_database_keeps_updates_queued_until_it_recovers(
    open_engine: OpenEngine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin = open_engine()
    await _rename_log_table(admin, "document_updates", "document_updates_away")
    store = DocumentStore(open_engine(), commit_interval=0.01)
    await store.start()
    editor = Editor()
    with caplog.at_level(logging.ERROR, logger="realtime.store"):
        store.append("outage", editor.type("kept "))
        store.append("outage", editor.type("safe"))
        await eventually(lambda: store.stats.failed_commits >= 2, what="two failed commits")
        assert store.stats.pending == 2
        with pytest.raises(Exception, match="document_updates"):
            await store.flush()

        await _rename_log_table(admin, "document_updates_away", "document_updates")
        await eventually(lambda: store.stats.pending == 0, what="the retried commit")

    assert text_of(await load_fresh(open_engine, "outage")) == "kept safe"
    errors = [r.getMessage() for r in caplog.records if r.name == "realtime.store"]
    assert errors and all("retrying" in message for message in errors)
    assert not any(database_url in message for message in errors)
    assert not any("INSERT" in message for message in errors)
    await store.close()


async def test_close_gives_up_after_its_timeout_when_the_database_stays_down(
    open_engine: OpenEngine,
) -> None:
    admin = open_engine()
    await _rename_log_table(admin, "document_updates", "document_updates_away")
    store = DocumentStore(open_engine(), commit_interval=60, close_timeout=0.3)
    store.append("lost", Editor().type("x"))

    with pytest.raises(StoreError, match="1 document updates could not be stored"):
        await store.close()


async def test_close_never_hangs_when_it_comes_as_a_group_is_due(engine: AsyncEngine) -> None:
    # Close once waited forever when called in the loop iteration where the store's
    # gathering wait timed out. Aim the close just before that deadline, several ways.
    interval = 0.02
    editor = Editor()
    rounds = 40
    for attempt in range(rounds):
        store = DocumentStore(engine, commit_interval=interval)
        await store.start()
        store.append("closing", editor.type("."))
        # The timing is what this test is about: the close must land just before the end of
        # the gathering wait.
        await asyncio.sleep(0)  # the store's task wakes and starts gathering
        await asyncio.sleep(interval - 0.0001 * (1 + attempt % 8))
        async with asyncio.timeout(10):  # not wait_for: that would defer close to a new task
            await store.close()
    assert text_of(await DocumentStore(engine).load("closing")) == "." * rounds
