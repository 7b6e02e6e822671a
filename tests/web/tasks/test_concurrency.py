"""Ten people moving the same fifty cards at random, all at once, through real HTTP clients
on a real server, each keeping its board up to date from the live stream: afterwards every
reload shows the same order, each card exactly once, and every live board shows that order
too. On SQLite, then on PostgreSQL when one answers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.live_viewers import LiveViewer
from tests.support.servers import AtelierServer
from tests.support.task_teams import Team, make_team
from web.tasks.fractional import generate_key_between

Start = Callable[..., AtelierServer]
PEOPLE = 10
CARDS = 50
MOVES_EACH = 30


def order_of(cards: dict[int, dict[str, Any]], columns: list[int]) -> list[list[int]]:
    """Each column's card ids, in key order."""
    return [
        [c["id"] for c in sorted(cards.values(), key=lambda c: c["order"]) if c["column_id"] == col]
        for col in columns
    ]


class Person:
    """One of the ten: a client on the API, and a board kept from the live stream."""

    def __init__(self, team: Team, index: int, seed: int) -> None:
        self.api = team.api(index)
        self.viewer = LiveViewer(team.server.http_url, team.cookies[index])
        self.topic = f"space:{team.space_id}"
        self.rng = random.Random(seed)
        self.cards: dict[int, dict[str, Any]] = {}
        self.columns: list[int] = []
        self.listening: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    async def open(self) -> None:
        await self.viewer.connect()
        assert await self.viewer.subscribe(self.topic) == "subscribed"
        board = await self.api.board()
        self.columns = [c["id"] for c in board["columns"]]
        self.cards = {c["id"]: c for c in board["tasks"]}
        self.listening = asyncio.create_task(self.listen())

    def apply(self, data: dict[str, Any]) -> None:
        card = self.cards[data["id"]]
        if data["version"] > card["version"]:  # an older event than what we hold: skip
            card.update(column_id=data["column_id"], order=data["order"], version=data["version"])

    async def listen(self) -> None:
        while True:
            event = await self.viewer.event("task.moved", timeout=3600)
            self.apply(event["data"])
            self.changed.set()

    async def move_at_random(self) -> None:
        for _ in range(MOVES_EACH):
            card = self.rng.choice(list(self.cards))
            column = self.rng.choice(self.columns)
            others = sorted(
                (c for c in self.cards.values() if c["column_id"] == column and c["id"] != card),
                key=lambda c: c["order"],
            )
            # Often the top of a column: where several people drop cards at once.
            at = 0 if self.rng.random() < 0.4 else self.rng.randrange(len(others) + 1)
            before = others[at - 1]["order"] if at > 0 else None
            after = others[at]["order"] if at < len(others) else None
            key = generate_key_between(before, after)
            moved = await self.api.ok(
                "POST", f"/{card}/deplacer", {"column_id": column, "order": key}
            )
            self.apply(moved)

    async def caught_up_with(self, final: dict[int, dict[str, Any]]) -> None:
        """Wait (bounded) until every card's version here is the final one."""
        async with asyncio.timeout(20):
            while any(self.cards[i]["version"] < c["version"] for i, c in final.items()):
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
        if self.viewer.ws is not None:
            await self.viewer.close()
        await self.api.client.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str | None:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return None


async def test_ten_people_moving_fifty_cards_at_once_end_with_one_order_everyone_sees(
    atelier: Start, database: str | None
) -> None:
    server = atelier(**({"DATABASE_URL": database} if database else {}))
    team = await make_team(server, PEOPLE, url=database)
    owner = team.api(0)
    for n in range(CARDS):
        await owner.create(f"Carte {n:02d}")
    people = [Person(team, i + 1, seed=1000 + i) for i in range(PEOPLE)]
    try:
        for person in people:
            await person.open()
        async with asyncio.TaskGroup() as moving:  # one failure stops them all
            for person in people:
                moving.create_task(person.move_at_random())

        reloads = [await p.api.board() for p in people]
        final = {c["id"]: c for c in reloads[0]["tasks"]}
        columns = [c["id"] for c in reloads[0]["columns"]]
        expected = order_of(final, columns)
        for board in reloads:
            assert order_of({c["id"]: c for c in board["tasks"]}, columns) == expected
        ids = [i for column in expected for i in column]
        assert sorted(ids) == sorted(final) and len(ids) == len(set(ids)) == CARDS
        for column in columns:  # one place per card: no two share a key
            keys = [c["order"] for c in final.values() if c["column_id"] == column]
            assert len(keys) == len(set(keys))
        for person in people:
            await person.caught_up_with(final)
            assert order_of(person.cards, columns) == expected
    finally:
        for person in people:
            await person.close()
        await owner.client.aclose()
        await team.engine.dispose()
