"""What the social services share: their store (engine, item kinds, limits), their answer
(`Outcome`: the JSON body and the live events to publish once committed), people's names,
and writing "insert unless there" on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from plumbing.ratelimit import TokenBucket
from web.schema import users
from web.social.items import ItemKinds


@dataclass(frozen=True)
class Limits:
    max_comment_chars: int = 10_000
    max_mentions: int = 20
    comments_per_minute: int = 30
    batch_seconds: float = 120.0
    digest_hour: int = 7


@dataclass
class SocialStore:
    """The engine, the item kinds and the limits; per-person comment buckets (per worker)."""

    engine: AsyncEngine
    kinds: ItemKinds
    limits: Limits = field(default_factory=Limits)
    buckets: dict[int, TokenBucket] = field(default_factory=dict)

    def may_post(self, user_id: int, now: float) -> bool:
        """Whether the person may post one more comment now (the per-minute limit)."""
        per_minute = self.limits.comments_per_minute
        bucket = self.buckets.get(user_id)
        if bucket is None:
            if len(self.buckets) > 10_000:
                self.buckets.clear()
            bucket = self.buckets[user_id] = TokenBucket(per_minute / 60, per_minute, now)
        return bucket.take(now)


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    kind: str
    data: dict[str, Any]


@dataclass
class Outcome:
    body: dict[str, Any]
    events: list[LiveEvent] = field(default_factory=list)
    # People notified (their live unread counts are sent once committed).
    notified: list[int] = field(default_factory=list)
    status: int = 200


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    from web.spaces.access import aware

    return aware(moment).isoformat()


async def names(conn: AsyncConnection, user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in user_ids if i is not None})
    if not wanted:
        return {}
    rows = await conn.execute(
        select(users.c.id, users.c.display_name).where(users.c.id.in_(wanted))
    )
    return {row.id: row.display_name for row in rows}


def person(user_id: int | None, known: Mapping[int, str]) -> dict[str, Any] | None:
    if user_id is None:
        return None
    return {"id": user_id, "name": known.get(user_id, "")}


async def insert_missing(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless one with its primary key is there; whether it was inserted."""
    maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    result = await conn.execute(maker(table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)
