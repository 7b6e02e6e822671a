"""The tasks migration makes exactly the tables web/tasks/tables.py declares (SQLite and
PostgreSQL), order keys compare bytewise there, and a card keeps one place per column."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.people import add_user
from web.spaces import services
from web.tasks import tables

TASK_TABLES = {name for name in tables.metadata.tables if name.startswith("task")}


async def test_the_migration_makes_the_declared_task_tables(engine: AsyncEngine) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection)

        def ours(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
            table = obj if kind == "table" else getattr(obj, "table", None)
            table_name = name if kind == "table" else getattr(table, "name", "")
            return table_name in TASK_TABLES

        context.opts["include_object"] = ours
        return list(compare_metadata(context, tables.metadata))

    async with engine.connect() as conn:
        found = await conn.run_sync(differences)
    assert TASK_TABLES == {
        "task_boards",
        "task_columns",
        "tasks",
        "task_assignees",
        "task_labels",
        "task_label_links",
        "task_checklist_items",
        "task_dependencies",
    }
    assert found == []


@pytest.mark.parametrize("keys", [["a0", "Zz", "a0V", "B", "b00", "a1", "az"]])
async def test_the_database_orders_keys_as_the_browser_does(
    engine: AsyncEngine, keys: list[str]
) -> None:
    owner = await add_user(engine)
    space = await services.create_space(engine, owner, name="Ordre")
    async with engine.begin() as conn:
        column = (
            await conn.execute(
                insert(tables.task_columns)
                .values(space_id=space.id, name="C", position="a0")
                .returning(tables.task_columns.c.id)
            )
        ).scalar_one()
        for n, key in enumerate(k for k in keys if k != "B"):
            await conn.execute(
                insert(tables.tasks).values(
                    space_id=space.id,
                    column_id=column,
                    order_key=key,
                    title=f"T{n}",
                    doc_name=f"task-order-{n}",
                    field_versions={},
                )
            )
        ordered = (
            await conn.execute(
                select(tables.tasks.c.order_key)
                .where(tables.tasks.c.column_id == column)
                .order_by(tables.tasks.c.order_key)
            )
        ).scalars()
        assert list(ordered) == sorted(k for k in keys if k != "B")  # "Zz" < "a0" < "a0V"
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                insert(tables.tasks).values(
                    space_id=space.id,
                    column_id=column,
                    order_key="a0",
                    title="Doublon",
                    doc_name="task-order-dup",
                    field_versions={},
                )
            )
