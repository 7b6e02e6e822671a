"""Alembic environment: configured in code by `web.database.migrate`, no alembic.ini."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from web.database import create_engine, metadata_list

config = context.config

# Any fixed 64-bit number: serialises concurrent `migrate` runs on one PostgreSQL database
# (several workers starting at once).
_MIGRATION_LOCK_ID = 7_315_468_201


def _target_metadata() -> list[MetaData]:
    return metadata_list()


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: call web.database.migrate(url)")
    return str(url)


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=_target_metadata(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    # One outer transaction for the whole upgrade: SQLite gets transactional DDL too (the
    # engine emits a real BEGIN), and a failed upgrade leaves nothing half-done.
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        context.configure(
            connection=connection,
            target_metadata=_target_metadata(),
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Take SQLite's write lock up front (BEGIN IMMEDIATE): two processes migrating
                # at once then queue on busy_timeout instead of failing on a stale read.
                await connection.execution_options(sqlite_begin_immediate=True)
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
