"""What every task service shares: the store (engine and hooks), roles, one transaction per
operation, the board's creation and lock, cards as the board shows them, live events.

Every write runs in one transaction that first checks the person's role in it, so a refused
or failed operation leaves nothing half-written; it answers an `Outcome`: the JSON body for
the route and the `TaskEvent`s to publish once committed.

Locks, always taken in this order so that two operations never wait on each other: the
board row (anything touching dates or dependencies), then a column row (anything placing a
card in it), then task rows. SQLite runs one write transaction at a time anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.spaces.access import MAX_ID, Actor, at_least, aware, member_role, space_role_in, utcnow
from web.spaces.errors import Forbidden
from web.spaces.tables import memberships, spaces
from web.tasks.errors import StaleTask, TaskConflict, TaskNotFound
from web.tasks.fractional import generate_n_keys_between
from web.tasks.tables import (
    task_assignees,
    task_boards,
    task_checklist_items,
    task_columns,
    task_label_links,
    tasks,
)

T = TypeVar("T")
DEFAULT_COLUMNS = (("À faire", False), ("En cours", False), ("Fait", True))
WRITE_ATTEMPTS = 4


@dataclass(frozen=True)
class TaskEvent:
    """A change as viewers receive it: `kind` ("task.moved"...) and its data. Published on
    the space's topic, and on the task's own (`item:task:<id>`) when `task_id` is set."""

    kind: str
    data: dict[str, Any]
    task_id: int | None = None
    # False: only on the task's own topic (the space's gets a summary event instead).
    to_space: bool = True


@dataclass(frozen=True)
class Change:
    """A committed change, as the activity hooks receive it: who, where, what."""

    space_id: int
    actor_id: int
    event: TaskEvent


ActivityHook = Callable[[AsyncConnection, Change], Awaitable[None]]
CommentCounts = Callable[[AsyncConnection, Sequence[int]], Awaitable[Mapping[int, int]]]


@dataclass
class TaskHooks:
    """Where the social layer plugs in (docs/tasks.md, "Hooks").

    `activity`: called inside the transaction of every change, with its connection, so a
    feed entry (or a notification to an assignee) commits with the change or not at all.
    `comment_counts`: the number of comments on each of a board's tasks (none until the
    social layer answers).
    """

    activity: list[ActivityHook] = field(default_factory=list)
    comment_counts: CommentCounts | None = None


@dataclass(frozen=True)
class TaskStore:
    engine: AsyncEngine
    hooks: TaskHooks


@dataclass(frozen=True)
class Outcome:
    """A service's answer: the JSON body, its status, and the events to publish."""

    body: dict[str, Any]
    events: list[TaskEvent] = field(default_factory=list)
    status: int = 200


async def write(
    store: TaskStore,
    space_id: int,
    actor: Actor,
    work: Callable[[AsyncConnection], Awaitable[Outcome]],
) -> Outcome:
    """Run `work` in one transaction, then the activity hooks in it; again when two writers
    collided on a unique key (the retry sees the other's row and decides anew)."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            async with store.engine.begin() as conn:
                outcome = await work(conn)
                for hook in store.hooks.activity:
                    for event in outcome.events:
                        await hook(conn, Change(space_id, actor.id, event))
                return outcome
        except IntegrityError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise TaskConflict(
                    "Une autre modification est passée au même moment : réessayez."
                ) from None
    raise AssertionError("unreachable")


async def read(store: TaskStore, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async with store.engine.connect() as conn:
        return await work(conn)


async def require_role(
    conn: AsyncConnection, actor: Actor, space_id: int, needed: str, now: datetime | None = None
) -> str:
    """The actor's role in the space, which must be `needed` or more (403), on a board it
    may see (404); writing (editor and up) needs a space that is not archived (409).

    A member's role and the space's state come in one query (this runs on every move)."""
    archived: Any = None
    if actor.guest_link_id is not None or not 0 < space_id < MAX_ID:
        role = await space_role_in(conn, actor, space_id, now or utcnow())
        if role is not None and at_least(needed, "editor"):
            archived = (
                await conn.execute(select(spaces.c.archived_at).where(spaces.c.id == space_id))
            ).scalar()
    else:
        row = (
            await conn.execute(
                select(memberships.c.role, spaces.c.visibility, spaces.c.archived_at)
                .select_from(
                    spaces.outerjoin(
                        memberships,
                        and_(
                            memberships.c.space_id == spaces.c.id,
                            memberships.c.user_id == actor.id,
                        ),
                    )
                )
                .where(spaces.c.id == space_id)
            )
        ).first()
        role = None if row is None else member_role(row.role, row.visibility, actor)
        archived = None if row is None else row.archived_at
    if role is None:
        raise TaskNotFound("Espace introuvable.")
    if not at_least(role, needed):
        raise Forbidden("Votre rôle dans cet espace ne permet pas cette action.")
    if at_least(needed, "editor") and archived is not None:
        raise TaskConflict("Cet espace est archivé : désarchivez-le d'abord.")
    return role


async def board_exists(conn: AsyncConnection, space_id: int) -> bool:
    found = await conn.execute(
        select(task_boards.c.space_id).where(task_boards.c.space_id == space_id)
    )
    return found.first() is not None


async def lock_board(conn: AsyncConnection, space_id: int) -> bool:
    """Take the board's lock (made with its default columns on first use); whether the space
    skips weekends and public holidays."""
    statement = (
        select(task_boards.c.skip_non_working)
        .where(task_boards.c.space_id == space_id)
        .with_for_update()
    )
    skip = (await conn.execute(statement)).scalar()
    if skip is not None:
        return bool(skip)
    await conn.execute(insert(task_boards).values(space_id=space_id, skip_non_working=True))
    keys = generate_n_keys_between(None, None, len(DEFAULT_COLUMNS))
    await conn.execute(
        insert(task_columns),
        [
            {"space_id": space_id, "name": name, "position": key, "done": done}
            for (name, done), key in zip(DEFAULT_COLUMNS, keys, strict=True)
        ],
    )
    return True


async def ensure_board(store: TaskStore, space_id: int) -> None:
    """Make the space's board (default columns) if it has none yet."""
    async with store.engine.connect() as conn:
        if await board_exists(conn, space_id):
            return
    for _ in range(WRITE_ATTEMPTS):
        try:
            async with store.engine.begin() as conn:
                await lock_board(conn, space_id)
            return
        except IntegrityError:  # made meanwhile by another request
            continue


def new_doc_name() -> str:
    return f"task-{uuid.uuid4().hex}"


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def moment(value: datetime | None) -> str | None:
    """A stored time as ISO 8601 with its offset (stored times are UTC)."""
    return None if value is None else aware(value).isoformat()


def stale_fields(row: Any, seen_version: int, fields: Iterable[str]) -> list[str]:
    """The fields among `fields` changed after version `seen_version` of the task."""
    versions = row.field_versions or {}
    return sorted(name for name in set(fields) if int(versions.get(name, 0)) > seen_version)


def bumped(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The version columns of a task after a change of `fields`."""
    new_version = int(row.version) + 1
    versions = dict(row.field_versions or {})
    for name in fields:
        versions[name] = new_version
    return {"version": new_version, "field_versions": versions}


CARD_COLUMNS = (
    tasks.c.id,
    tasks.c.column_id,
    tasks.c.order_key,
    tasks.c.title,
    tasks.c.version,
    tasks.c.start_date,
    tasks.c.due_date,
    tasks.c.estimate_hours,
    tasks.c.progress,
    tasks.c.milestone,
    tasks.c.parent_id,
    tasks.c.archived_at,
)


async def cards(
    conn: AsyncConnection, store: TaskStore, space_id: int, *where: Any
) -> list[dict[str, Any]]:
    """The cards of a space's tasks matching `where`, as the board shows them: fields,
    assignees, labels, checklist progress, comment count."""
    condition = and_(tasks.c.space_id == space_id, *where)
    rows = (await conn.execute(select(*CARD_COLUMNS).where(condition))).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    people: dict[int, list[int]] = {}
    chosen = select(task_assignees.c.task_id, task_assignees.c.user_id).join(
        tasks, tasks.c.id == task_assignees.c.task_id
    )
    for task_id, user_id in (await conn.execute(chosen.where(condition))).all():
        people.setdefault(task_id, []).append(user_id)
    labels: dict[int, list[int]] = {}
    tagged = select(task_label_links.c.task_id, task_label_links.c.label_id).join(
        tasks, tasks.c.id == task_label_links.c.task_id
    )
    for task_id, label_id in (await conn.execute(tagged.where(condition))).all():
        labels.setdefault(task_id, []).append(label_id)
    items = task_checklist_items
    counted = (
        select(
            items.c.task_id,
            func.count(),
            func.sum(case((items.c.done.is_(True), 1), else_=0)),
        )
        .join(tasks, tasks.c.id == items.c.task_id)
        .where(condition)
        .group_by(items.c.task_id)
    )
    checklists = {
        task_id: {"done": int(done or 0), "total": int(total)}
        for task_id, total, done in (await conn.execute(counted)).all()
    }
    counts: Mapping[int, int] = {}
    if store.hooks.comment_counts is not None:
        counts = await store.hooks.comment_counts(conn, ids)
    empty = {"done": 0, "total": 0}
    return [
        {
            "id": row.id,
            "column_id": row.column_id,
            "order": row.order_key,
            "title": row.title,
            "version": row.version,
            "assignees": sorted(people.get(row.id, ())),
            "labels": sorted(labels.get(row.id, ())),
            "start_date": iso(row.start_date),
            "due_date": iso(row.due_date),
            "estimate_hours": row.estimate_hours,
            "progress": row.progress,
            "milestone": bool(row.milestone),
            "parent_id": row.parent_id,
            "archived": row.archived_at is not None,
            "checklist": checklists.get(row.id, empty),
            "comments": counts.get(row.id, 0),
        }
        for row in rows
    ]


async def card(
    conn: AsyncConnection, store: TaskStore, space_id: int, task_id: int
) -> dict[str, Any]:
    found = await cards(conn, store, space_id, tasks.c.id == task_id)
    if not found:
        raise TaskNotFound("Tâche introuvable.")
    return found[0]


async def task_row(
    conn: AsyncConnection, space_id: int, task_id: int, *, lock: bool = False
) -> Any:
    """The task's row, locked for this transaction when `lock`; 404 outside the space."""
    statement = select(tasks).where(tasks.c.id == task_id, tasks.c.space_id == space_id)
    if lock:
        statement = statement.with_for_update()
    row = (await conn.execute(statement)).first()
    if row is None:
        raise TaskNotFound("Tâche introuvable.")
    return row


async def refuse_if_stale(
    conn: AsyncConnection,
    store: TaskStore,
    row: Any,
    seen_version: int | None,
    fields: Iterable[str],
) -> None:
    """409 with the task as it is now when any of `fields` changed since `seen_version`."""
    if seen_version is None:
        return
    stale = stale_fields(row, seen_version, fields)
    if seen_version > row.version:
        stale = sorted(set(fields)) or ["version"]
    if stale:
        raise StaleTask(stale, await card(conn, store, row.space_id, row.id))


def order_by_key(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Items sorted by an order key compared as bytes (as the browser compares them)."""
    return sorted(items, key=lambda item: (item[key], item.get("id", 0)))


def column_json(row: Any, count: int = 0) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "position": row.position,
        "wip_limit": row.wip_limit,
        "done": bool(row.done),
        "count": count,
    }


def stamp(actor: Actor) -> dict[str, Any]:
    """The columns every change of a task sets."""
    return {"updated_by": actor.id, "updated_at": utcnow()}
