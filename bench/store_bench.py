"""Benchmark the document store: append throughput and commit latency, SQLite and PostgreSQL.

    .venv/bin/python bench/store_bench.py [--updates 20000] [--docs 50] [--rate 2000]

Two runs per database:
  burst  – append as fast as possible (yielding to the loop every 100 appends) then flush;
           reports durable appends per second.
  paced  – a steady --rate updates/s for --seconds; reports the commit transaction time and
           the wait of the oldest update in each group until durable (p50/p99).
PostgreSQL is used when one answers at --postgres (a scratch database is created and dropped).
Measures and prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pycrdt import Doc, Text  # noqa: E402

from realtime.store import DocumentStore  # noqa: E402
from web.database import create_engine, migrate  # noqa: E402


def typing_updates(count: int, docs: int) -> list[tuple[str, bytes]]:
    """Realistic small updates: one keystroke each, spread over `docs` documents."""
    editors = []
    for index in range(docs):
        doc = Doc()
        text = doc.get("text", type=Text)
        updates: list[bytes] = []
        doc.observe(lambda event, updates=updates: updates.append(event.update))
        editors.append((f"bench/doc-{index}", text, updates))
    out = []
    for i in range(count):
        name, text, updates = editors[i % docs]
        text += "abcdefghij"[i % 10]
        out.append((name, updates[-1]))
    return out


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def burst(url: str, updates: list[tuple[str, bytes]], interval: float) -> None:
    engine = create_engine(url)
    store = DocumentStore(engine, commit_interval=interval)
    await store.start()
    started = time.perf_counter()
    for i, (name, update) in enumerate(updates):
        store.append(name, update)
        if i % 100 == 99:
            await asyncio.sleep(0)
    await store.flush()
    elapsed = time.perf_counter() - started
    await store.close()  # lets the compactions the burst triggered finish, for the count
    print(
        f"  burst: {len(updates)} appends durable in {elapsed:.2f} s = "
        f"{len(updates) / elapsed:,.0f} appends/s in {store.stats.commits} commits, "
        f"then {store.stats.compactions} compactions"
    )
    await engine.dispose()


async def paced(
    url: str, updates: list[tuple[str, bytes]], rate: float, seconds: float, interval: float
) -> None:
    engine = create_engine(url)
    store = DocumentStore(engine, commit_interval=interval)
    await store.start()
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    deadline = time.perf_counter() + seconds
    sent = 0
    next_tick = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(per_tick):
            name, update = updates[sent % len(updates)]
            store.append(name, update)
            sent += 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    await store.close()
    await engine.dispose()
    commits = [s * 1000 for s in store.stats.commit_seconds]
    waits = [s * 1000 for s in store.stats.wait_seconds]
    print(
        f"  paced: {sent} appends at ~{sent / seconds:,.0f}/s, {store.stats.commits} commits "
        f"(~{sent / max(store.stats.commits, 1):.0f} updates each), "
        f"{store.stats.compactions} compactions"
    )
    print(
        f"         commit transaction p50 {percentile(commits, 0.5):.2f} ms, "
        f"p99 {percentile(commits, 0.99):.2f} ms"
    )
    print(
        f"         append -> durable (oldest in group) p50 {percentile(waits, 0.5):.1f} ms, "
        f"p99 {percentile(waits, 0.99):.1f} ms  (commit_interval {interval * 1000:.0f} ms)"
    )


async def postgres_database(admin_url: str) -> str | None:
    import asyncpg

    name = f"atelier_bench_{uuid.uuid4().hex[:10]}"
    try:
        connection = await asyncio.wait_for(asyncpg.connect(admin_url), 3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL: skipped ({type(exc).__name__})")
        return None
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_postgres_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def run_one(label: str, url: str, args: argparse.Namespace) -> None:
    await asyncio.to_thread(migrate, url)
    print(f"{label}:")
    updates = typing_updates(args.updates, args.docs)
    await burst(url, updates, args.interval)
    await paced(url, updates, args.rate, args.seconds, args.interval)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2_000, help="paced updates per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=0.05, help="commit_interval (s)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        await run_one(
            "SQLite (WAL, synchronous=NORMAL)", f"sqlite+aiosqlite:///{folder}/b.db", args
        )

    admin = args.postgres
    name = await postgres_database(admin)
    if name is not None:
        base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        try:
            await run_one("PostgreSQL", f"{base}/{name}", args)
        finally:
            await drop_postgres_database(admin, name)


if __name__ == "__main__":
    asyncio.run(main())
