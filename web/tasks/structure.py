"""What a space's board is made of: its columns (name, place, WIP limit, "done"), its labels,
its planning setting. Editors shape the board; the working-days setting is an admin's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from web.spaces.access import Actor
from web.tasks.common import (
    Outcome,
    TaskEvent,
    TaskStore,
    column_json,
    lock_board,
    require_role,
    write,
)
from web.tasks.errors import TaskConflict, TaskInvalid, TaskNotFound
from web.tasks.fractional import generate_key_between, generate_n_keys_between
from web.tasks.tables import task_boards, task_columns, task_labels, tasks

MAX_COLUMNS = 50
MAX_LABELS = 100


def label_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "colour": row.colour}


async def _column(conn: AsyncConnection, space_id: int, column_id: int) -> Any:
    row = (
        await conn.execute(
            select(task_columns)
            .where(task_columns.c.id == column_id, task_columns.c.space_id == space_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise TaskNotFound("Colonne introuvable.")
    return row


async def _count(conn: AsyncConnection, column_id: int) -> int:
    statement = select(func.count()).where(
        tasks.c.column_id == column_id, tasks.c.archived_at.is_(None)
    )
    return int((await conn.execute(statement)).scalar_one())


async def _free_column_place(
    conn: AsyncConnection, space_id: int, key: str, column_id: int | None
) -> str:
    """`key`, or the key just after it when another column holds it."""
    others = (task_columns.c.space_id == space_id, task_columns.c.id != (column_id or 0))
    taken = await conn.execute(
        select(task_columns.c.id).where(task_columns.c.position == key, *others)
    )
    if taken.first() is None:
        return key
    following = (
        await conn.execute(
            select(func.min(task_columns.c.position)).where(task_columns.c.position > key, *others)
        )
    ).scalar()
    return generate_key_between(key, following)


async def add_column(
    store: TaskStore, actor: Actor, space_id: int, values: dict[str, Any]
) -> Outcome:
    """A new column (at the given place, or last)."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await lock_board(conn, space_id)
        count = (
            await conn.execute(select(func.count()).where(task_columns.c.space_id == space_id))
        ).scalar_one()
        if count >= MAX_COLUMNS:
            raise TaskConflict("%(max)d colonnes au plus.", max=MAX_COLUMNS)
        if "position" in values:
            position = await _free_column_place(conn, space_id, values["position"], None)
        else:
            last = (
                await conn.execute(
                    select(func.max(task_columns.c.position)).where(
                        task_columns.c.space_id == space_id
                    )
                )
            ).scalar()
            position = generate_key_between(last, None)
        new_id = (
            await conn.execute(
                task_columns.insert()
                .values(
                    space_id=space_id,
                    name=values["name"],
                    position=position,
                    wip_limit=values.get("wip_limit"),
                    done=values.get("done", False),
                )
                .returning(task_columns.c.id)
            )
        ).scalar_one()
        row = await _column(conn, space_id, new_id)
        column = column_json(row)
        event = TaskEvent("task.column.created", {"column": column, "by": actor.id})
        return Outcome({"column": column}, [event], 201)

    return await write(store, space_id, actor, work)


async def change_column(
    store: TaskStore, actor: Actor, space_id: int, column_id: int, values: dict[str, Any]
) -> Outcome:
    """Rename, move, set the WIP limit or the "done" flag of a column."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await lock_board(conn, space_id)
        await _column(conn, space_id, column_id)
        if "position" in values:
            values["position"] = await _free_column_place(
                conn, space_id, values["position"], column_id
            )
        if values:
            await conn.execute(
                update(task_columns).where(task_columns.c.id == column_id).values(**values)
            )
        row = await _column(conn, space_id, column_id)
        column = column_json(row, await _count(conn, column_id))
        event = TaskEvent("task.column.updated", {"column": column, "by": actor.id})
        return Outcome({"column": column}, [event])

    return await write(store, space_id, actor, work)


async def remove_column(
    store: TaskStore, actor: Actor, space_id: int, column_id: int, move_to: int | None
) -> Outcome:
    """Delete a column; its cards (archived ones too) go to the bottom of `move_to`, else a
    column that still holds cards is refused. The last column stays."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await lock_board(conn, space_id)
        await _column(conn, space_id, column_id)
        columns = (
            await conn.execute(select(func.count()).where(task_columns.c.space_id == space_id))
        ).scalar_one()
        if columns <= 1:
            raise TaskConflict("Un tableau garde au moins une colonne.")
        held = (
            await conn.execute(
                select(tasks.c.id, tasks.c.version, tasks.c.field_versions)
                .where(tasks.c.column_id == column_id)
                .order_by(tasks.c.order_key)
            )
        ).all()
        events: list[TaskEvent] = []
        if held:
            if move_to is None:
                raise TaskConflict(
                    "Cette colonne contient des tâches : choisissez où les déplacer."
                )
            if move_to == column_id:
                raise TaskInvalid("Choisissez une autre colonne.")
            target = await _column(conn, space_id, move_to)
            last = (
                await conn.execute(
                    select(func.max(tasks.c.order_key)).where(tasks.c.column_id == target.id)
                )
            ).scalar()
            keys = generate_n_keys_between(last, None, len(held))
            for row, key in zip(held, keys, strict=True):
                versions = dict(row.field_versions or {})
                versions["position"] = row.version + 1
                await conn.execute(
                    update(tasks)
                    .where(tasks.c.id == row.id)
                    .values(
                        column_id=target.id,
                        order_key=key,
                        version=row.version + 1,
                        field_versions=versions,
                    )
                )
                data = {
                    "id": row.id,
                    "column_id": target.id,
                    "order": key,
                    "version": row.version + 1,
                    "by": actor.id,
                }
                events.append(TaskEvent("task.moved", data, row.id))
        await conn.execute(delete(task_columns).where(task_columns.c.id == column_id))
        removed = TaskEvent("task.column.deleted", {"id": column_id, "by": actor.id})
        return Outcome({"deleted": column_id, "moved": len(held)}, [removed, *events])

    return await write(store, space_id, actor, work)


async def _label(conn: AsyncConnection, space_id: int, label_id: int) -> Any:
    row = (
        await conn.execute(
            select(task_labels).where(
                task_labels.c.id == label_id, task_labels.c.space_id == space_id
            )
        )
    ).first()
    if row is None:
        raise TaskNotFound("Étiquette introuvable.")
    return row


async def _name_free(conn: AsyncConnection, space_id: int, name: str, label_id: int) -> None:
    taken = await conn.execute(
        select(task_labels.c.id).where(
            task_labels.c.space_id == space_id,
            task_labels.c.name == name,
            task_labels.c.id != label_id,
        )
    )
    if taken.first() is not None:
        raise TaskConflict("Une étiquette porte déjà ce nom.")


async def add_label(
    store: TaskStore, actor: Actor, space_id: int, name: str, colour: str
) -> Outcome:
    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await lock_board(conn, space_id)
        count = (
            await conn.execute(select(func.count()).where(task_labels.c.space_id == space_id))
        ).scalar_one()
        if count >= MAX_LABELS:
            raise TaskConflict("%(max)d étiquettes au plus.", max=MAX_LABELS)
        await _name_free(conn, space_id, name, 0)
        new_id = (
            await conn.execute(
                task_labels.insert()
                .values(space_id=space_id, name=name, colour=colour)
                .returning(task_labels.c.id)
            )
        ).scalar_one()
        label = label_json(await _label(conn, space_id, new_id))
        event = TaskEvent("task.label.created", {"label": label, "by": actor.id})
        return Outcome({"label": label}, [event], 201)

    return await write(store, space_id, actor, work)


async def change_label(
    store: TaskStore, actor: Actor, space_id: int, label_id: int, values: dict[str, Any]
) -> Outcome:
    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await _label(conn, space_id, label_id)
        if "name" in values:
            await _name_free(conn, space_id, values["name"], label_id)
        if values:
            await conn.execute(
                update(task_labels).where(task_labels.c.id == label_id).values(**values)
            )
        label = label_json(await _label(conn, space_id, label_id))
        event = TaskEvent("task.label.updated", {"label": label, "by": actor.id})
        return Outcome({"label": label}, [event])

    return await write(store, space_id, actor, work)


async def remove_label(store: TaskStore, actor: Actor, space_id: int, label_id: int) -> Outcome:
    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "editor")
        await _label(conn, space_id, label_id)
        await conn.execute(delete(task_labels).where(task_labels.c.id == label_id))
        event = TaskEvent("task.label.deleted", {"id": label_id, "by": actor.id})
        return Outcome({"deleted": label_id}, [event])

    return await write(store, space_id, actor, work)


async def change_settings(
    store: TaskStore, actor: Actor, space_id: int, skip_non_working: bool
) -> Outcome:
    """Whether the space's plans skip weekends and French public holidays (admins)."""

    async def work(conn: AsyncConnection) -> Outcome:
        await require_role(conn, actor, space_id, "admin")
        await lock_board(conn, space_id)
        await conn.execute(
            update(task_boards)
            .where(task_boards.c.space_id == space_id)
            .values(skip_non_working=skip_non_working)
        )
        settings = {"skip_non_working": skip_non_working}
        event = TaskEvent("task.settings", {"settings": settings, "by": actor.id})
        return Outcome({"settings": settings}, [event])

    return await write(store, space_id, actor, work)
