"""Tasks benchmark (docs/benchmarks.md, "Tasks"): the board, a live move, the scheduler.

1. A board of 5,000 cards in 10 columns: the size of its JSON and the time to serve it
   (client-measured on loopback, one `atelier serve`, SQLite).
2. A move committed and seen by 20 other viewers: one person moves cards over HTTP while 20
   others follow the space on real `/live` WebSockets (session cookies); for each move, the
   time from sending it to each viewer receiving its event.
3. The scheduler alone (pure function): a chain of 200 dependants moved by its first task;
   1,000 tasks with 1,000 dependencies, a root moved, then the critical path.

    .venv/bin/python bench/tasks_bench.py [--moves 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from tests.support.live_viewers import LiveViewer  # noqa: E402
from tests.support.servers import AtelierServer  # noqa: E402
from tests.support.task_teams import Team, make_team  # noqa: E402
from web.tasks.fractional import generate_key_between, generate_n_keys_between  # noqa: E402
from web.tasks.scheduler import Link, Plan, Span, critical_path, reschedule  # noqa: E402
from web.tasks.tables import task_columns, tasks  # noqa: E402
from web.tasks.workdays import WorkCalendar  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def log(message: str) -> None:
    print(f"[tasks] {message}", file=sys.stderr, flush=True)


async def seed_board(team: Team, cards: int, columns: int) -> None:
    """`columns` columns (the board's three first) holding `cards` cards, straight in the
    database."""
    owner = team.api(0)
    await owner.board()  # makes the board and its default columns
    for n in range(columns - 3):
        await owner.ok("POST", "/colonnes", {"name": f"Colonne {n + 4}"})
    await owner.client.aclose()
    async with team.engine.begin() as conn:
        ids = list(
            (
                await conn.execute(
                    select(task_columns.c.id)
                    .where(task_columns.c.space_id == team.space_id)
                    .order_by(task_columns.c.position)
                )
            ).scalars()
        )
        each = cards // len(ids)
        start = date(2027, 1, 4)
        rows = []
        for column in ids:
            for i, key in enumerate(generate_n_keys_between(None, None, each)):
                day = start + timedelta(days=len(rows) % 300)
                rows.append(
                    {
                        "space_id": team.space_id,
                        "column_id": column,
                        "order_key": key,
                        "title": f"Carte {len(rows)} : préparer le dossier numéro {i}",
                        "doc_name": f"task-bench-{team.space_id}-{len(rows)}",
                        "start_date": day,
                        "due_date": day + timedelta(days=3),
                        "progress": len(rows) % 101,
                        "field_versions": {},
                    }
                )
        await conn.execute(insert(tasks), rows)


async def board_timing(team: Team, rounds: int) -> dict[str, Any]:
    api = team.api(1)
    await api.board()  # warm
    times = []
    size = 0
    count = 0
    for _ in range(rounds):
        began = time.perf_counter()
        response = await api.call("GET", "")
        times.append((time.perf_counter() - began) * 1000)
        size = len(response.content)
        count = len(response.json()["tasks"])
    await api.client.aclose()
    return {
        "cards": count,
        "json_bytes": size,
        "ms_p50": round(statistics.median(times), 1),
        "ms_max": round(max(times), 1),
    }


async def _seen(viewer: LiveViewer, wanted: tuple[int, int], began: float) -> float:
    """When `viewer` receives the move of card `wanted[0]` to version `wanted[1]`, in ms."""
    while True:
        event = await viewer.event("task.moved")
        if (event["data"]["id"], event["data"]["version"]) == wanted:
            return (time.perf_counter() - began) * 1000


async def live_moves(team: Team, viewers: int, moves: int) -> dict[str, Any]:
    """One mover, `viewers` live viewers: commit time and seen-by-all times, in ms."""
    mover = team.api(1)
    board = await mover.board()
    cards = board["tasks"][:200]
    columns = [c["id"] for c in board["columns"]]
    watching = []
    for index in range(2, 2 + viewers):
        viewer = await LiveViewer(team.server.http_url, team.cookies[index]).connect()
        assert await viewer.subscribe(f"space:{team.space_id}") == "subscribed"
        watching.append(viewer)
    rng = random.Random(5)
    last_key = max(c["order"] for c in board["tasks"])
    committed: list[float] = []
    seen: list[float] = []
    seen_by_all: list[float] = []
    for _ in range(moves):
        card = rng.choice(cards)
        column = rng.choice(columns)
        last_key = generate_key_between(last_key, None)  # to the bottom of the column
        key = last_key
        began = time.perf_counter()
        answer = await mover.ok(
            "POST", f"/{card['id']}/deplacer", {"column_id": column, "order": key}
        )
        committed.append((time.perf_counter() - began) * 1000)

        wanted = (card["id"], answer["version"])
        arrivals = await asyncio.gather(*(_seen(v, wanted, began) for v in watching))
        seen.extend(arrivals)
        seen_by_all.append(max(arrivals))
    for viewer in watching:
        await viewer.close()
    await mover.client.aclose()
    return {
        "viewers": viewers,
        "moves": moves,
        "commit_ms_p50": round(statistics.median(committed), 1),
        "commit_ms_p95": round(percentile(committed, 0.95), 1),
        "seen_ms_p50": round(statistics.median(seen), 1),
        "seen_ms_p95": round(percentile(seen, 0.95), 1),
        "seen_by_all_ms_p95": round(percentile(seen_by_all, 0.95), 1),
    }


def scheduler_timings(rounds: int) -> dict[str, Any]:
    calendar = WorkCalendar()
    calendar.index(date(2027, 1, 4))  # the calendar's table, built once per process
    first = date(2027, 1, 4)
    chain = {
        i: Span(first + timedelta(days=i * 2), first + timedelta(days=i * 2)) for i in range(201)
    }
    links = [Link(i, i + 1, "FS", 0) for i in range(200)]
    plan = Plan(chain, links, calendar)
    chain_ms = []
    for _ in range(rounds):
        began = time.perf_counter()
        changes = reschedule(plan, {0: Span(first + timedelta(days=7), first + timedelta(days=7))})
        chain_ms.append((time.perf_counter() - began) * 1000)
    assert len(changes) == 201

    rng = random.Random(11)
    spans = {}
    for i in range(1000):
        start = first + timedelta(days=rng.randrange(0, 400))
        spans[i] = Span(start, start + timedelta(days=rng.randrange(0, 10)))
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < 1000:
        a, b = sorted(rng.sample(range(1000), 2))
        pairs.add((a, b))
    kinds = ("FS", "SS", "FF", "SF")
    big_links = [Link(a, b, rng.choice(kinds), rng.randrange(-2, 4)) for a, b in sorted(pairs)]
    settled = reschedule(Plan(spans, big_links, calendar), spans)
    for change in settled:
        spans[change.task_id] = change.after
    big = Plan(spans, big_links, calendar)
    roots = [t for t in range(1000) if all(link.successor != t for link in big_links)]
    big_ms, path_ms = [], []
    moved = 0
    for n in range(rounds):
        root = roots[n % len(roots)]
        span = big.spans[root]
        began = time.perf_counter()
        moved = len(
            reschedule(
                big, {root: Span(span.start + timedelta(days=9), span.end + timedelta(days=9))}
            )
        )
        big_ms.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        critical_path(big)
        path_ms.append((time.perf_counter() - began) * 1000)
    return {
        "chain_200_ms_p50": round(statistics.median(chain_ms), 2),
        "chain_200_ms_max": round(max(chain_ms), 2),
        "tasks_1000_links_1000_reschedule_ms_p50": round(statistics.median(big_ms), 2),
        "tasks_1000_last_move_changed": moved,
        "tasks_1000_critical_path_ms_p50": round(statistics.median(path_ms), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--moves", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"scheduler": scheduler_timings(args.rounds * 3)}
    log(f"scheduler: {results['scheduler']}")
    with tempfile.TemporaryDirectory(prefix="tasks-bench-") as folder:
        server = AtelierServer(Path(folder) / "data", env={"ATELIER_LOG_LEVEL": "warning"})
        server.start()
        try:
            team = await make_team(server, args.viewers + 1)
            await seed_board(team, args.cards, args.columns)
            results["board"] = await board_timing(team, args.rounds)
            log(f"board: {results['board']}")
            results["live_move"] = await live_moves(team, args.viewers, args.moves)
            log(f"live move: {results['live_move']}")
            await team.engine.dispose()
        finally:
            server.stop()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
