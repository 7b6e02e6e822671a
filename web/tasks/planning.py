"""The plan of a space: dependencies, rescheduling (and its undo), the Gantt's data.

The services load the space's dated tasks and links under the board's lock, ask the pure
scheduler (`web.tasks.scheduler`), and write the changes it returns, each task's version
bumped. A reschedule answers its changes (before and after), which is what the Gantt shows
and what an undo sends back: the undo applies them only if none of those tasks changed
since and the plan still breaks no link, else it is refused and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from web.spaces.access import Actor
from web.tasks.common import (
    Outcome,
    TaskEvent,
    TaskStore,
    bumped,
    cards,
    iso,
    lock_board,
    read,
    refuse_if_stale,
    require_role,
    stamp,
    task_row,
    write,
)
from web.tasks.errors import TaskConflict, TaskInvalid, TaskNotFound
from web.tasks.scheduler import (
    Change,
    CycleError,
    Link,
    Plan,
    ScheduleError,
    Span,
    check_link,
    critical_path,
    reschedule,
    violations,
)
from web.tasks.tables import task_boards, task_dependencies, tasks
from web.tasks.workdays import OutOfCalendar, WorkCalendar, french_public_holidays

MAX_UNDO = 5_000


@dataclass(frozen=True)
class Loaded:
    plan: Plan
    rows: dict[int, Any]


def dependency_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "predecessor_id": row.predecessor_id,
        "successor_id": row.successor_id,
        "kind": row.kind,
        "lag_days": row.lag_days,
    }


def _span_of(start: date | None, due: date | None) -> Span | None:
    if start is None and due is None:
        return None
    first = start or due
    last = due or start
    assert first is not None and last is not None
    return Span(first, last)


async def load_plan(conn: AsyncConnection, space_id: int, skip: bool) -> Loaded:
    rows = {
        row.id: row
        for row in (
            await conn.execute(
                select(
                    tasks.c.id,
                    tasks.c.title,
                    tasks.c.start_date,
                    tasks.c.due_date,
                    tasks.c.version,
                    tasks.c.field_versions,
                ).where(tasks.c.space_id == space_id)
            )
        ).all()
    }
    spans = {}
    for task_id, row in rows.items():
        span = _span_of(row.start_date, row.due_date)
        if span is not None:
            spans[task_id] = span
    links = [
        Link(r.predecessor_id, r.successor_id, r.kind, r.lag_days)
        for r in (
            await conn.execute(
                select(task_dependencies).where(task_dependencies.c.space_id == space_id)
            )
        ).all()
    ]
    titles = {task_id: row.title for task_id, row in rows.items()}
    calendar = WorkCalendar(skip_non_working=skip)
    return Loaded(Plan(spans, links, calendar, titles), rows)


def _dates_of(row: Any, span: Span) -> tuple[date | None, date | None]:
    """A span written back as the task's dates: a task with one date keeps having one."""
    if row.start_date is None and row.due_date is not None:
        return None, span.end
    if row.due_date is None and row.start_date is not None:
        return span.start, None
    return span.start, span.end


def _plan_changes(loaded: Loaded, moves: dict[int, Span]) -> list[Change]:
    try:
        return reschedule(loaded.plan, moves)
    except CycleError as error:
        raise TaskInvalid(
            "Les dépendances forment un cycle : %(cycle)s.", cycle=str(error)
        ) from None
    except (OutOfCalendar, ScheduleError):
        raise TaskInvalid("Ce déplacement sortirait du calendrier.") from None


async def _write_changes(
    conn: AsyncConnection, actor: Actor, loaded: Loaded, changes: Sequence[Change], full: int = -1
) -> tuple[list[dict[str, Any]], list[TaskEvent]]:
    """Write each change; the changes as the answer lists them, and their events. A task
    with one date keeps one, except task `full` (moved on the Gantt: it gets both)."""
    answered: list[dict[str, Any]] = []
    events: list[TaskEvent] = []
    for change in changes:
        row = loaded.rows[change.task_id]
        start: date | None
        due: date | None
        if change.task_id == full:
            start, due = change.after.start, change.after.end
        else:
            start, due = _dates_of(row, change.after)
        new = bumped(row, ["start_date", "due_date"])
        await conn.execute(
            update(tasks)
            .where(tasks.c.id == change.task_id)
            .values(start_date=start, due_date=due, **new, **stamp(actor))
        )
        before = {"start_date": iso(row.start_date), "due_date": iso(row.due_date)}
        after = {"start_date": iso(start), "due_date": iso(due)}
        version = new["version"]
        data = {"id": change.task_id, "version": version, "fields": after, "by": actor.id}
        events.append(TaskEvent("task.updated", data, change.task_id, to_space=False))
        answered.append(
            {
                "id": change.task_id,
                "title": row.title,
                "version": version,
                "before": before,
                "after": after,
            }
        )
    return answered, events


def _summary(actor: Actor, answered: list[dict[str, Any]]) -> list[TaskEvent]:
    if not answered:
        return []
    changes = [{"id": c["id"], "version": c["version"], **c["after"]} for c in answered]
    return [TaskEvent("task.rescheduled", {"changes": changes, "by": actor.id})]


async def place_dates(
    conn: AsyncConnection,
    actor: Actor,
    space_id: int,
    task_id: int,
    start: date | None,
    due: date | None,
    skip: bool,
) -> tuple[tuple[date | None, date | None], list[dict[str, Any]], list[TaskEvent]]:
    """New dates for a task (the board's lock held): its dates as the plan allows them, the
    other tasks' changes (written here), and their events."""
    span = _span_of(start, due)
    if span is None:
        return (None, None), [], []
    loaded = await load_plan(conn, space_id, skip)
    changes = _plan_changes(loaded, {task_id: span})
    own = next((c for c in changes if c.task_id == task_id), None)
    final = own.after if own else loaded.plan.spans.get(task_id, span)
    others = [c for c in changes if c.task_id != task_id]
    answered, events = await _write_changes(conn, actor, loaded, others)
    new_start = None if start is None else final.start
    new_due = None if due is None else final.end
    return (new_start, new_due), answered, [*_summary(actor, answered), *events]


async def reschedule_task(
    store: TaskStore,
    actor: Actor,
    space_id: int,
    task_id: int,
    seen_version: int,
    start: date,
    due: date,
) -> Outcome:
    """Move (or resize) a task on the plan; what depends on it follows. The answer lists
    every change, the task's own first, for the Gantt to show and undo."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        skip = await lock_board(conn, space_id)
        row = await task_row(conn, space_id, task_id, lock=True)
        await refuse_if_stale(conn, store, row, seen_version, ["start_date", "due_date"])
        loaded = await load_plan(conn, space_id, skip)
        changes = _plan_changes(loaded, {task_id: Span(start, due)})
        changes.sort(key=lambda c: c.task_id != task_id)
        answered, events = await _write_changes(conn, actor, loaded, changes, task_id)
        return Outcome({"changes": answered}, [*_summary(actor, answered), *events])

    return await write(store, space_id, actor, work)


async def undo_reschedule(
    store: TaskStore,
    actor: Actor,
    space_id: int,
    items: list[tuple[int, int, date | None, date | None]],
) -> Outcome:
    """Put tasks back to the dates a reschedule answered as `before`: each `(task, version
    after the reschedule, start, due)`. Refused (409, nothing written) when one of them
    changed since or the plan would break a link."""
    if len(items) > MAX_UNDO:
        raise TaskInvalid("Trop de changements à annuler d'un coup.")

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        skip = await lock_board(conn, space_id)
        loaded = await load_plan(conn, space_id, skip)
        moved = [task_id for task_id, _, _, _ in items if task_id in loaded.rows]
        if len(moved) != len(items):
            raise TaskNotFound("Tâche introuvable.")
        changed_since = [t for t, version, _, _ in items if loaded.rows[t].version != version]
        if changed_since:
            error = TaskConflict(
                "Ces tâches ont changé depuis : annulation impossible, rechargez le planning."
            )
            error.extra = {"conflict": {"tasks": changed_since}}
            raise error
        spans = dict(loaded.plan.spans)
        for task_id, _, start, due in items:
            validate_dates(start, due)
            span = _span_of(start, due)
            if span is None:
                spans.pop(task_id, None)
            else:
                spans[task_id] = span
        if violations(Plan(spans, loaded.plan.links, loaded.plan.calendar)):
            raise TaskConflict("Le planning a changé depuis : cette annulation casserait un lien.")
        answered: list[dict[str, Any]] = []
        events: list[TaskEvent] = []
        for task_id, _, start, due in items:
            row = loaded.rows[task_id]
            new = bumped(row, ["start_date", "due_date"])
            await conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(start_date=start, due_date=due, **new, **stamp(actor))
            )
            after = {"start_date": iso(start), "due_date": iso(due)}
            before = {"start_date": iso(row.start_date), "due_date": iso(row.due_date)}
            answered.append(
                {
                    "id": task_id,
                    "title": row.title,
                    "version": new["version"],
                    "before": before,
                    "after": after,
                }
            )
            data = {"id": task_id, "version": new["version"], "fields": after, "by": actor.id}
            events.append(TaskEvent("task.updated", data, task_id, to_space=False))
        return Outcome({"changes": answered}, [*_summary(actor, answered), *events])

    return await write(store, space_id, actor, work)


def validate_dates(start: date | None, due: date | None) -> None:
    if start is not None and due is not None and due < start:
        raise TaskInvalid("L'échéance ne peut pas précéder le début.")


# -- dependencies ---------------------------------------------------------------------------


async def _settle(
    conn: AsyncConnection, actor: Actor, space_id: int, skip: bool, successor: int
) -> tuple[list[dict[str, Any]], list[TaskEvent]]:
    """After a link changed: if the plan breaks it, the successor (and what follows it) goes
    just late enough."""
    loaded = await load_plan(conn, space_id, skip)
    if not violations(loaded.plan):
        return [], []
    span = loaded.plan.spans[successor]
    changes = _plan_changes(loaded, {successor: span})
    answered, events = await _write_changes(conn, actor, loaded, changes)
    return answered, [*_summary(actor, answered), *events]


async def _check_tasks(conn: AsyncConnection, space_id: int, ids: Sequence[int]) -> None:
    found = set(
        (
            await conn.execute(
                select(tasks.c.id).where(tasks.c.space_id == space_id, tasks.c.id.in_(ids))
            )
        ).scalars()
    )
    if found != set(ids):
        raise TaskInvalid("Une dépendance relie deux tâches de cet espace.")


async def add_dependency(
    store: TaskStore,
    actor: Actor,
    space_id: int,
    predecessor: int,
    successor: int,
    kind: str,
    lag: int,
) -> Outcome:
    """Link two tasks of the space; a link that would close a cycle is refused, naming it."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        skip = await lock_board(conn, space_id)
        if predecessor == successor:
            raise TaskInvalid("Une tâche ne peut pas dépendre d'elle-même.")
        await _check_tasks(conn, space_id, [predecessor, successor])
        loaded = await load_plan(conn, space_id, skip)
        if any(
            (link.predecessor, link.successor) == (predecessor, successor)
            for link in loaded.plan.links
        ):
            raise TaskConflict("Ces deux tâches sont déjà liées.")
        try:
            check_link(loaded.plan, Link(predecessor, successor, kind, lag))
        except CycleError as error:
            refusal = TaskInvalid(
                "Cette dépendance créerait un cycle : %(cycle)s.", cycle=str(error)
            )
            refusal.extra = {"cycle": list(error.cycle)}
            raise refusal from None
        new_id = (
            await conn.execute(
                insert(task_dependencies)
                .values(
                    space_id=space_id,
                    predecessor_id=predecessor,
                    successor_id=successor,
                    kind=kind,
                    lag_days=lag,
                )
                .returning(task_dependencies.c.id)
            )
        ).scalar_one()
        row = (
            await conn.execute(select(task_dependencies).where(task_dependencies.c.id == new_id))
        ).one()
        answered, events = await _settle(conn, actor, space_id, skip, successor)
        link = dependency_json(row)
        created = TaskEvent("task.dependency.created", {"dependency": link, "by": actor.id})
        return Outcome({"dependency": link, "changes": answered}, [created, *events], 201)

    return await write(store, space_id, actor, work)


async def _dependency(conn: AsyncConnection, space_id: int, dependency_id: int) -> Any:
    row = (
        await conn.execute(
            select(task_dependencies).where(
                task_dependencies.c.id == dependency_id,
                task_dependencies.c.space_id == space_id,
            )
        )
    ).first()
    if row is None:
        raise TaskNotFound("Dépendance introuvable.")
    return row


async def change_dependency(
    store: TaskStore, actor: Actor, space_id: int, dependency_id: int, values: dict[str, Any]
) -> Outcome:
    """Change a link's kind or lag; its successor moves if the plan now breaks it."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        skip = await lock_board(conn, space_id)
        row = await _dependency(conn, space_id, dependency_id)
        if values:
            await conn.execute(
                update(task_dependencies)
                .where(task_dependencies.c.id == dependency_id)
                .values(**values)
            )
        row = await _dependency(conn, space_id, dependency_id)
        answered, events = await _settle(conn, actor, space_id, skip, row.successor_id)
        link = dependency_json(row)
        changed = TaskEvent("task.dependency.updated", {"dependency": link, "by": actor.id})
        return Outcome({"dependency": link, "changes": answered}, [changed, *events])

    return await write(store, space_id, actor, work)


async def remove_dependency(
    store: TaskStore, actor: Actor, space_id: int, dependency_id: int
) -> Outcome:
    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await lock_board(conn, space_id)
        await _dependency(conn, space_id, dependency_id)
        await conn.execute(delete(task_dependencies).where(task_dependencies.c.id == dependency_id))
        event = TaskEvent("task.dependency.deleted", {"id": dependency_id, "by": actor.id})
        return Outcome({"deleted": dependency_id}, [event])

    return await write(store, space_id, actor, work)


# -- the Gantt's data -----------------------------------------------------------------------


async def planning_view(store: TaskStore, actor: Actor, space_id: int) -> dict[str, Any]:
    """What the Gantt draws: tasks (not archived), links, the critical path and each task's
    slack, and the days off around the plan (holidays named)."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await require_role(conn, actor, space_id, "reader")
        skip = (
            await conn.execute(
                select(task_boards.c.skip_non_working).where(task_boards.c.space_id == space_id)
            )
        ).scalar()
        skip = True if skip is None else bool(skip)
        loaded = await load_plan(conn, space_id, skip)
        shown = await cards(conn, store, space_id, tasks.c.archived_at.is_(None))
        links = (
            await conn.execute(
                select(task_dependencies).where(task_dependencies.c.space_id == space_id)
            )
        ).all()
        try:
            path = critical_path(loaded.plan)
        except ScheduleError:
            path = None
        spans = loaded.plan.spans.values()
        days_off: list[str] = []
        holidays: dict[str, str] = {}
        if spans and skip:
            first = min(s.start for s in spans) - timedelta(days=31)
            last = max(s.end for s in spans) + timedelta(days=62)
            off = loaded.plan.calendar.days_off(first, last)
            days_off = [d.isoformat() for d in off]
            for year in range(first.year, last.year + 1):
                for day, name in french_public_holidays(year).items():
                    if first <= day <= last:
                        holidays[day.isoformat()] = name
        return {
            "calendar": {"skip_non_working": skip, "days_off": days_off, "holidays": holidays},
            "tasks": sorted(shown, key=lambda c: c["id"]),
            "dependencies": [dependency_json(r) for r in links],
            "critical": sorted(path.critical) if path else [],
            "slack": {str(t): days for t, days in sorted(path.slack.items())} if path else {},
            "finish": iso(path.finish) if path else None,
        }

    return await read(store, work)
