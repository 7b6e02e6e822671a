"""Writing tasks: create, update (with the version check), move, delete, checklists, and a
page's checklist item turned into a task.

Moves. A move writes the card's column and order key in one row update. Two people who drop
cards at the same spot compute the same key (the key between the same two neighbours); the
column's row lock makes their moves take turns, and the later one, finding its key taken,
is given the key just after it (between it and the next card): both cards land there, the
later one second, and the key it got is in its answer and in the event everyone receives.
Keys are unique per column (a constraint), so there is one order and everyone sees it.

A move needs no version: it sets the place and nothing else, from nothing it read, so it
overwrites no one's field; of two moves of one card, the later wins and every viewer gets
it (its event carries the newer version). An offline client replaying an old move sends
the version it saw, and is refused (409) if the card moved since.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from realtime.tables import document_updates, documents
from web.spaces.access import Actor, utcnow
from web.spaces.tables import memberships, pages
from web.tasks import planning, validation
from web.tasks.common import (
    Outcome,
    TaskEvent,
    TaskStore,
    bumped,
    card,
    lock_board,
    new_doc_name,
    refuse_if_stale,
    require_role,
    stamp,
    task_row,
    write,
)
from web.tasks.errors import TaskInvalid, TaskNotFound
from web.tasks.fractional import generate_key_between
from web.tasks.tables import (
    task_assignees,
    task_checklist_items,
    task_columns,
    task_label_links,
    task_labels,
    tasks,
)

# The fields of a task a PATCH may set (its place changes by a move).
UPDATABLE = (
    "title",
    "start_date",
    "due_date",
    "estimate_hours",
    "progress",
    "milestone",
    "parent_id",
    "archived",
    "assignees",
    "labels",
)
CREATABLE = (*UPDATABLE, "column_id", "order")
_PARSERS: dict[str, Any] = {
    "title": validation.title,
    "column_id": lambda v: validation.ident(v, "Colonne"),
    "order": validation.order_key,
    "start_date": lambda v: validation.optional_date(v, "Début"),
    "due_date": lambda v: validation.optional_date(v, "Échéance"),
    "estimate_hours": validation.estimate,
    "progress": validation.progress,
    "milestone": lambda v: validation.flag(v, "Jalon"),
    "parent_id": lambda v: validation.optional_ident(v, "Tâche parente"),
    "archived": lambda v: validation.flag(v, "Archivée"),
    "assignees": lambda v: validation.id_list(v, "Personnes assignées"),
    "labels": lambda v: validation.id_list(v, "Étiquettes"),
}


def task_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Checked values of the task fields a request carries (JSON names)."""
    return {name: _PARSERS[name](value) for name, value in body.items() if name in _PARSERS}


# -- places in a column ---------------------------------------------------------------------


async def _column(conn: AsyncConnection, space_id: int, column_id: int | None) -> Any:
    """The column (the first one when None), locked: cards are placed in it one at a time."""
    statement = select(task_columns).where(task_columns.c.space_id == space_id)
    if column_id is None:
        statement = statement.order_by(task_columns.c.position).limit(1)
    else:
        statement = statement.where(task_columns.c.id == column_id)
    row = (await conn.execute(statement.with_for_update())).first()
    if row is None:
        raise TaskInvalid("Colonne inconnue dans cet espace.")
    return row


async def _free_place(
    conn: AsyncConnection, column_id: int, key: str, task_id: int | None
) -> tuple[str, bool]:
    """`key`, or the key just after it when another card holds it; whether it changed."""
    others = (tasks.c.column_id == column_id, tasks.c.id != (task_id or 0))
    first = (
        await conn.execute(
            select(func.min(tasks.c.order_key)).where(tasks.c.order_key >= key, *others)
        )
    ).scalar()
    if first != key:
        return key, False
    following = (
        await conn.execute(
            select(func.min(tasks.c.order_key)).where(tasks.c.order_key > key, *others)
        )
    ).scalar()
    return generate_key_between(key, following), True


async def _bottom(conn: AsyncConnection, column_id: int) -> str:
    last = (
        await conn.execute(
            select(func.max(tasks.c.order_key)).where(tasks.c.column_id == column_id)
        )
    ).scalar()
    return generate_key_between(last, None)


async def _wip(conn: AsyncConnection, column: Any) -> dict[str, Any]:
    """The column's work-in-progress limit against its cards (counted when it has a limit)."""
    limit = column.wip_limit
    if limit is None:
        return {"limit": None, "count": None, "exceeded": False}
    count = (
        await conn.execute(
            select(func.count()).where(
                tasks.c.column_id == column.id, tasks.c.archived_at.is_(None)
            )
        )
    ).scalar_one()
    return {"limit": limit, "count": count, "exceeded": count > limit}


# -- checks of related rows -----------------------------------------------------------------


async def _check_people(conn: AsyncConnection, space_id: int, people: list[int]) -> None:
    if not people:
        return
    found = set(
        (
            await conn.execute(
                select(memberships.c.user_id).where(
                    memberships.c.space_id == space_id, memberships.c.user_id.in_(people)
                )
            )
        ).scalars()
    )
    if set(people) - found:
        raise TaskInvalid("On n'assigne une tâche qu'à des membres de l'espace.")


async def _check_labels(conn: AsyncConnection, space_id: int, labels: list[int]) -> None:
    if not labels:
        return
    found = set(
        (
            await conn.execute(
                select(task_labels.c.id).where(
                    task_labels.c.space_id == space_id, task_labels.c.id.in_(labels)
                )
            )
        ).scalars()
    )
    if set(labels) - found:
        raise TaskInvalid("Étiquette inconnue dans cet espace.")


async def _check_parent(
    conn: AsyncConnection, space_id: int, task_id: int | None, parent_id: int | None
) -> None:
    """The parent is a task of the space and not the task itself or one of its sub-tasks."""
    seen: set[int] = set()
    current = parent_id
    while current is not None and current not in seen:
        if current == task_id:
            raise TaskInvalid("Une tâche ne peut pas être sa propre sous-tâche.")
        seen.add(current)
        row = (
            await conn.execute(
                select(tasks.c.parent_id).where(tasks.c.id == current, tasks.c.space_id == space_id)
            )
        ).first()
        if row is None:
            raise TaskInvalid("Tâche parente inconnue dans cet espace.")
        current = row.parent_id


async def _set_links(
    conn: AsyncConnection, task_id: int, assignees: list[int] | None, labels: list[int] | None
) -> None:
    if assignees is not None:
        await conn.execute(delete(task_assignees).where(task_assignees.c.task_id == task_id))
        if assignees:
            rows = [{"task_id": task_id, "user_id": user} for user in assignees]
            await conn.execute(insert(task_assignees), rows)
    if labels is not None:
        await conn.execute(delete(task_label_links).where(task_label_links.c.task_id == task_id))
        if labels:
            rows = [{"task_id": task_id, "label_id": label} for label in labels]
            await conn.execute(insert(task_label_links), rows)


# -- create ---------------------------------------------------------------------------------


async def _insert_task(
    conn: AsyncConnection,
    store: TaskStore,
    actor: Actor,
    space_id: int,
    fields: dict[str, Any],
    source: tuple[int, str] | None = None,
) -> Outcome:
    await require_role(conn, actor, space_id, "editor")
    await lock_board(conn, space_id)
    column = await _column(conn, space_id, fields.get("column_id"))
    if "order" in fields:
        key, _ = await _free_place(conn, column.id, fields["order"], None)
    else:
        key = await _bottom(conn, column.id)
    start, due = fields.get("start_date"), fields.get("due_date")
    validation.date_order(start, due)
    await _check_parent(conn, space_id, None, fields.get("parent_id"))
    await _check_people(conn, space_id, fields.get("assignees", []))
    await _check_labels(conn, space_id, fields.get("labels", []))
    now = utcnow()
    task_id = (
        await conn.execute(
            insert(tasks)
            .values(
                space_id=space_id,
                column_id=column.id,
                order_key=key,
                title=fields["title"],
                doc_name=new_doc_name(),
                start_date=start,
                due_date=due,
                estimate_hours=fields.get("estimate_hours"),
                progress=fields.get("progress", 0),
                milestone=fields.get("milestone", False),
                parent_id=fields.get("parent_id"),
                archived_at=now if fields.get("archived") else None,
                version=1,
                field_versions={},
                source_page_id=source[0] if source else None,
                source_item=source[1] if source else None,
                created_by=actor.id,
                created_at=now,
                updated_by=actor.id,
                updated_at=now,
            )
            .returning(tasks.c.id)
        )
    ).scalar_one()
    await _set_links(conn, task_id, fields.get("assignees"), fields.get("labels"))
    created = await card(conn, store, space_id, task_id)
    event = TaskEvent("task.created", {"task": created, "by": actor.id}, task_id)
    return Outcome({"task": created}, [event], 201)


async def create_task(
    store: TaskStore, actor: Actor, space_id: int, fields: dict[str, Any]
) -> Outcome:
    """A new task (title required) in the given column, or the first; at the given place, or
    at the bottom."""
    if "title" not in fields:
        raise TaskInvalid("%(field)s : ce champ est obligatoire.", field="Titre")

    async def work(conn: AsyncConnection) -> Outcome:
        return await _insert_task(conn, store, actor, space_id, fields)

    return await write(store, space_id, actor, work)


async def task_from_page_item(
    store: TaskStore, actor: Actor, space_id: int, page_id: int, item: str, text: str
) -> Outcome:
    """The task a page's checklist item becomes: made once (201), found again after (200)."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        page = (
            await conn.execute(
                select(pages.c.id).where(
                    pages.c.id == page_id,
                    pages.c.space_id == space_id,
                    pages.c.deleted_at.is_(None),
                )
            )
        ).first()
        if page is None:
            raise TaskNotFound("Page introuvable.")
        existing = (
            await conn.execute(
                select(tasks.c.id).where(
                    tasks.c.source_page_id == page_id, tasks.c.source_item == item
                )
            )
        ).scalar()
        if existing is not None:
            return Outcome({"task": await card(conn, store, space_id, existing)})
        fields = {"title": text}
        return await _insert_task(conn, store, actor, space_id, fields, (page_id, item))

    return await write(store, space_id, actor, work)


# -- update ---------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def update_task(
    store: TaskStore,
    actor: Actor,
    space_id: int,
    task_id: int,
    seen_version: int,
    fields: dict[str, Any],
) -> Outcome:
    """Set the given fields of a task seen at `seen_version`: refused (409, with the task as
    it is) when one of them changed since; new dates move what depends on the task."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        dated = "start_date" in fields or "due_date" in fields
        skip = await lock_board(conn, space_id) if dated else True
        row = await task_row(conn, space_id, task_id, lock=True)
        await refuse_if_stale(conn, store, row, seen_version, fields)
        values: dict[str, Any] = {}
        for name in ("title", "estimate_hours", "progress", "milestone", "parent_id"):
            if name in fields and fields[name] != getattr(row, name):
                values[name] = fields[name]
        if "parent_id" in values:
            await _check_parent(conn, space_id, task_id, values["parent_id"])
        if "archived" in fields and fields["archived"] != (row.archived_at is not None):
            values["archived_at"] = utcnow() if fields["archived"] else None
        start = fields.get("start_date", row.start_date)
        due = fields.get("due_date", row.due_date)
        validation.date_order(start, due)
        changed = {k if k != "archived_at" else "archived": v for k, v in values.items()}
        for name in ("assignees", "labels"):
            if name in fields:
                changed[name] = fields[name]
        await _check_people(conn, space_id, fields.get("assignees", []))
        await _check_labels(conn, space_id, fields.get("labels", []))
        events: list[TaskEvent] = []
        rescheduled: list[dict[str, Any]] = []
        if (start, due) != (row.start_date, row.due_date):
            own, rescheduled, events = await planning.place_dates(
                conn, actor, space_id, task_id, start, due, skip
            )
            start, due = own
            if start != row.start_date:
                changed["start_date"] = values["start_date"] = start
            if due != row.due_date:
                changed["due_date"] = values["due_date"] = due
        if not changed:
            return Outcome({"task": await card(conn, store, space_id, task_id), "changes": []})
        new = bumped(row, changed)
        await conn.execute(
            update(tasks).where(tasks.c.id == task_id).values(**values, **new, **stamp(actor))
        )
        await _set_links(conn, task_id, fields.get("assignees"), fields.get("labels"))
        data = {
            "id": task_id,
            "version": new["version"],
            "fields": {k: _json_value(v) for k, v in changed.items()},
            "by": actor.id,
        }
        events.insert(0, TaskEvent("task.updated", data, task_id))
        body = {"task": await card(conn, store, space_id, task_id), "changes": rescheduled}
        return Outcome(body, events)

    return await write(store, space_id, actor, work)


# -- move -----------------------------------------------------------------------------------


async def move_task(
    store: TaskStore,
    actor: Actor,
    space_id: int,
    task_id: int,
    column_id: int,
    key: str,
    seen_version: int | None,
) -> Outcome:
    """Put a card in `column_id` at `key` (or just after it, when taken)."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        column = await _column(conn, space_id, column_id)
        row = await task_row(conn, space_id, task_id, lock=True)
        await refuse_if_stale(conn, store, row, seen_version, ["position"])
        body: dict[str, Any] = {"id": task_id, "column_id": column.id}
        if (row.column_id, row.order_key) == (column.id, key):
            body.update(order=key, version=row.version, adjusted=False)
            return Outcome({**body, "wip": await _wip(conn, column)})
        final, adjusted = await _free_place(conn, column.id, key, task_id)
        new = bumped(row, ["position"])
        await conn.execute(
            update(tasks)
            .where(tasks.c.id == task_id)
            .values(column_id=column.id, order_key=final, **new, **stamp(actor))
        )
        body.update(order=final, version=new["version"], adjusted=adjusted)
        data = {**body, "by": actor.id}
        del data["adjusted"]
        event = TaskEvent("task.moved", data, task_id)
        return Outcome({**body, "wip": await _wip(conn, column)}, [event])

    return await write(store, space_id, actor, work)


# -- delete ---------------------------------------------------------------------------------


async def delete_task(store: TaskStore, actor: Actor, space_id: int, task_id: int) -> Outcome:
    """Delete a task with its checklist, links and description; its sub-tasks move up to its
    own parent."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await lock_board(conn, space_id)
        row = await task_row(conn, space_id, task_id, lock=True)
        events: list[TaskEvent] = [
            TaskEvent("task.deleted", {"id": task_id, "by": actor.id}, task_id)
        ]
        children = (
            await conn.execute(select(tasks).where(tasks.c.parent_id == task_id).with_for_update())
        ).all()
        for child in children:
            new = bumped(child, ["parent_id"])
            await conn.execute(
                update(tasks)
                .where(tasks.c.id == child.id)
                .values(parent_id=row.parent_id, **new, **stamp(actor))
            )
            data = {
                "id": child.id,
                "version": new["version"],
                "fields": {"parent_id": row.parent_id},
                "by": actor.id,
            }
            events.append(TaskEvent("task.updated", data, child.id))
        await conn.execute(delete(tasks).where(tasks.c.id == task_id))
        await conn.execute(delete(document_updates).where(document_updates.c.name == row.doc_name))
        await conn.execute(delete(documents).where(documents.c.name == row.doc_name))
        return Outcome({"deleted": task_id, "doc_name": row.doc_name}, events)

    return await write(store, space_id, actor, work)


# -- checklist ------------------------------------------------------------------------------


async def checklist(conn: AsyncConnection, task_id: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            select(task_checklist_items)
            .where(task_checklist_items.c.task_id == task_id)
            .order_by(task_checklist_items.c.position, task_checklist_items.c.id)
        )
    ).all()
    return [
        {"id": r.id, "text": r.text, "done": bool(r.done), "position": r.position} for r in rows
    ]


async def _checklist_changed(conn: AsyncConnection, actor: Actor, row: Any, field: str) -> Outcome:
    new = bumped(row, [field])
    await conn.execute(update(tasks).where(tasks.c.id == row.id).values(**new, **stamp(actor)))
    items = await checklist(conn, row.id)
    summary = {"done": sum(1 for i in items if i["done"]), "total": len(items)}
    data = {"id": row.id, "version": new["version"], "items": items, "checklist": summary}
    event = TaskEvent("task.checklist", {**data, "by": actor.id}, row.id)
    return Outcome(data, [event])


async def add_checklist_item(
    store: TaskStore, actor: Actor, space_id: int, task_id: int, text: str
) -> Outcome:
    """A new item at the end of the task's checklist."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        row = await task_row(conn, space_id, task_id, lock=True)
        last = (
            await conn.execute(
                select(func.max(task_checklist_items.c.position)).where(
                    task_checklist_items.c.task_id == task_id
                )
            )
        ).scalar()
        item_id = (
            await conn.execute(
                insert(task_checklist_items)
                .values(
                    task_id=task_id,
                    text=text,
                    done=False,
                    position=generate_key_between(last, None),
                )
                .returning(task_checklist_items.c.id)
            )
        ).scalar_one()
        outcome = await _checklist_changed(conn, actor, row, f"checklist:{item_id}")
        return Outcome({**outcome.body, "item_id": item_id}, outcome.events, 201)

    return await write(store, space_id, actor, work)


async def update_checklist_item(
    store: TaskStore,
    actor: Actor,
    space_id: int,
    task_id: int,
    item_id: int,
    seen_version: int | None,
    values: dict[str, Any],
) -> Outcome:
    """Change an item's text, state or place (refused when it changed since `seen_version`)."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        row = await task_row(conn, space_id, task_id, lock=True)
        field = f"checklist:{item_id}"
        await refuse_if_stale(conn, store, row, seen_version, [field])
        found = await conn.execute(
            update(task_checklist_items)
            .where(task_checklist_items.c.id == item_id, task_checklist_items.c.task_id == task_id)
            .values(**values)
        )
        if found.rowcount == 0:
            raise TaskNotFound("Élément de liste introuvable.")
        return await _checklist_changed(conn, actor, row, field)

    return await write(store, space_id, actor, work)


async def delete_checklist_item(
    store: TaskStore, actor: Actor, space_id: int, task_id: int, item_id: int
) -> Outcome:
    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        row = await task_row(conn, space_id, task_id, lock=True)
        found = await conn.execute(
            delete(task_checklist_items).where(
                task_checklist_items.c.id == item_id, task_checklist_items.c.task_id == task_id
            )
        )
        if found.rowcount == 0:
            raise TaskNotFound("Élément de liste introuvable.")
        return await _checklist_changed(conn, actor, row, f"checklist:{item_id}")

    return await write(store, space_id, actor, work)
