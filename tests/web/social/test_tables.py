"""The social migration makes exactly the tables web/social/tables.py declares, and the
outbox's new columns (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from web.social import tables

SOCIAL_TABLES = {
    "comments",
    "comment_reactions",
    "appreciations",
    "follows",
    "notifications",
    "notification_mail_settings",
    "pending_mails",
    "activities",
    "page_mentions",
    "outbox",
}


async def test_the_migration_makes_the_declared_social_tables(engine: AsyncEngine) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection)

        def ours(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
            table = obj if kind == "table" else getattr(obj, "table", None)
            table_name = name if kind == "table" else getattr(table, "name", "")
            return table_name in SOCIAL_TABLES

        context.opts["include_object"] = ours
        return list(compare_metadata(context, tables.metadata))

    async with engine.connect() as conn:
        found = await conn.run_sync(differences)
    assert SOCIAL_TABLES <= set(tables.metadata.tables)
    assert found == []
