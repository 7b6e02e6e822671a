"""Database URL, engine settings and migrations, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from realtime.tables import document_updates
from tests.support.waiting import eventually
from web.database import DatabaseError, create_engine, database_url, migrate

ROOT = Path(__file__).resolve().parents[2]


def _heads() -> list[str]:
    from alembic.script import ScriptDirectory

    from web.database import alembic_config

    return sorted(ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://")).get_heads())


HEADS = _heads()


def test_no_database_url_means_a_sqlite_file_in_the_data_folder(tmp_path: Path) -> None:
    url = database_url(tmp_path / "data", None)
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'atelier.db').resolve()}"
    assert database_url(tmp_path, "  ") == database_url(tmp_path, "")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/atelier", "postgresql+asyncpg://u:p@db:5432/atelier"),
        ("postgresql://u@db/atelier", "postgresql+asyncpg://u@db/atelier"),
        ("postgresql+asyncpg://u@db/atelier", "postgresql+asyncpg://u@db/atelier"),
        ("sqlite:////srv/atelier.db", "sqlite+aiosqlite:////srv/atelier.db"),
    ],
)
def test_database_urls_are_rewritten_to_async_drivers(given: str, expected: str) -> None:
    assert database_url(Path("/unused"), given) == expected


def test_an_unsupported_database_url_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(DatabaseError, match="mysql") as caught:
        database_url(Path("/unused"), "mysql://admin:s3cret@db/atelier")
    assert "s3cret" not in str(caught.value)


async def test_sqlite_engine_uses_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'atelier.db'}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ["journal_mode", "busy_timeout", "synchronous", "foreign_keys"]
            }
    finally:
        await engine.dispose()
    # synchronous 1 is NORMAL.
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 15000,
        "synchronous": 1,
        "foreign_keys": 1,
    }


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _schema(url: str) -> tuple[set[str], list[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return tables, sorted(row[0] for row in versions)
    finally:
        await engine.dispose()


async def test_migrate_creates_the_tables_and_running_it_again_changes_nothing(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    await asyncio.to_thread(migrate, url)
    tables, versions = await _schema(url)
    assert {"documents", "document_updates", "alembic_version"} <= tables
    assert sorted(versions) == HEADS

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                document_updates.insert().values(name="kept", data=b"\x00\x00")
            )
        await asyncio.to_thread(migrate, url)
        async with engine.connect() as connection:
            names = (await connection.execute(select(document_updates.c.name))).scalars().all()
    finally:
        await engine.dispose()
    assert names == ["kept"]
    assert await _schema(url) == (tables, versions)


async def test_migrate_works_when_called_from_inside_an_event_loop(
    empty_database_url: str,
) -> None:
    migrate(empty_database_url)  # deliberately not in a thread: the loop is running here
    tables, _ = await _schema(empty_database_url)
    assert {"documents", "document_updates"} <= tables


async def test_workers_migrating_at_the_same_time_all_succeed(empty_database_url: str) -> None:
    script = "import sys; from web.database import migrate; migrate(sys.argv[1])"
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            empty_database_url,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = [await asyncio.wait_for(worker.communicate(), 60) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0, 0], outcomes
    assert (await _schema(empty_database_url))[1] == HEADS


async def test_threads_migrating_at_the_same_time_all_succeed(empty_database_url: str) -> None:
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            migrate(empty_database_url)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    await asyncio.gather(*(asyncio.to_thread(thread.join) for thread in threads))

    assert failures == []
    assert (await _schema(empty_database_url))[1] == HEADS


async def test_a_write_that_reads_first_waits_its_turn_instead_of_failing(tmp_path: Path) -> None:
    # In WAL mode a read-then-write transaction used to fail at once ("database is locked")
    # when another connection committed between its read and its write, as the document store
    # does every few tens of milliseconds while people type.
    engine = create_engine(database_url(tmp_path, None))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))

    async def other_writer() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    def write_lock_taken() -> bool:
        """Whether some connection holds the write lock (asked without waiting for it)."""
        probe = sqlite3.connect(tmp_path / "atelier.db", timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()

    async with engine.begin() as first:
        count = (await first.execute(text("SELECT count(*) FROM t"))).scalar_one()
        other = asyncio.create_task(other_writer())
        # The other writer commits now if the database lets it (it did: then the write below
        # failed), or waits for the write lock held for this transaction.
        await eventually(lambda: other.done() or write_lock_taken(), what="the other writer")
        await first.execute(text("INSERT INTO t VALUES (:n)"), {"n": count + 1})
    await other
    async with engine.connect() as conn:
        assert sorted((await conn.execute(text("SELECT n FROM t"))).scalars()) == [1, 2]
    await engine.dispose()
