"""Everything an app in process keeps, as a value: every table's rows and the files of its data
folder; the difference between two such values; and wiping them, so that each case of a test
starts from an empty instance.

What background passes write on their own schedule, whoever asks what, is left out: the
search index (`page_text`, rebuilt every half minute) and automatic page versions (taken
every minute for edited pages). Document updates still waiting for the store's group commit
are committed before each snapshot, so a document's bytes are in its tables.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, delete, text
from sqlalchemy.engine import Connection
from starlette.applications import Starlette

from web.database import FILES_FOLDER

# Tables written by background passes, not by the request that runs.
BACKGROUND_TABLES = frozenset({"page_text"})
# Rows written by background passes in tables that requests write too: (table, column) true.
BACKGROUND_ROWS = frozenset({("page_versions", "automatic")})
FILES = "files"  # the name a change in the data folder's files goes by, beside the tables

Row = dict[str, Any]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Snapshot:
    """Every row of every table (by primary key), and the sha256 of every stored file."""

    tables: Mapping[str, Mapping[Key, Row]]
    files: Mapping[str, str]


@dataclass(frozen=True)
class Change:
    """What differs between two snapshots."""

    added: dict[str, list[Row]] = field(default_factory=dict)
    removed: dict[str, list[Row]] = field(default_factory=dict)
    updated: dict[str, list[tuple[Row, Row]]] = field(default_factory=dict)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.tables()

    def tables(self) -> set[str]:
        """The tables with a row added, removed or changed (and `FILES` for files)."""
        touched = set(self.added) | set(self.removed) | set(self.updated)
        files = self.files_added or self.files_removed or self.files_changed
        return touched | ({FILES} if files else set())

    def describe(self) -> str:
        """The change, one line per row, for assertion messages."""
        lines = []
        for table, rows in sorted(self.added.items()):
            lines += [f"+ {table} {_short(row)}" for row in rows]
        for table, rows in sorted(self.removed.items()):
            lines += [f"- {table} {_short(row)}" for row in rows]
        for table, pairs in sorted(self.updated.items()):
            for before, after in pairs:
                moved = {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
                lines.append(f"~ {table} {_short(moved)}")
        lines += [f"+ file {name}" for name in self.files_added]
        lines += [f"- file {name}" for name in self.files_removed]
        lines += [f"~ file {name}" for name in self.files_changed]
        return "\n".join(lines) or "(nothing)"


def _short(row: Mapping[str, Any]) -> str:
    shown = {
        k: (f"<{len(v)} bytes>" if isinstance(v, bytes | memoryview) else v) for k, v in row.items()
    }
    return repr(shown)[:300]


def compare(before: Snapshot, after: Snapshot) -> Change:
    """What `after` holds that `before` did not, and the reverse."""
    change = Change()
    for table in sorted(set(before.tables) | set(after.tables)):
        old, new = before.tables.get(table, {}), after.tables.get(table, {})
        added = [new[k] for k in new.keys() - old.keys()]
        removed = [old[k] for k in old.keys() - new.keys()]
        updated = [(old[k], new[k]) for k in old.keys() & new.keys() if old[k] != new[k]]
        if added:
            change.added[table] = added
        if removed:
            change.removed[table] = removed
        if updated:
            change.updated[table] = updated
    change.files_added.extend(sorted(after.files.keys() - before.files.keys()))
    change.files_removed.extend(sorted(before.files.keys() - after.files.keys()))
    change.files_changed.extend(
        sorted(
            k for k in before.files.keys() & after.files.keys() if before.files[k] != after.files[k]
        )
    )
    return change


class InstanceState:
    """Takes snapshots of an app's database and files, and wipes them."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.files = Path(app.state.settings.data_path) / FILES_FOLDER
        self._tables: list[Table] = []
        self._keys: dict[str, list[str]] = {}

    async def _reflect(self) -> list[Table]:
        if not self._tables:
            metadata = MetaData()

            def reflect(conn: Connection) -> None:
                metadata.reflect(conn)

            async with self.app.state.engine.connect() as conn:
                await conn.run_sync(reflect)
            self._tables = [
                t
                for t in metadata.sorted_tables
                if t.name != "alembic_version" and not t.name.startswith("sqlite_")
            ]
            self._keys = {
                t.name: [c.name for c in t.primary_key.columns] or list(t.c.keys())
                for t in self._tables
            }
        return self._tables

    async def snapshot(self) -> Snapshot:
        """The instance now, document updates in the store's queue committed first."""
        await self.app.state.store.flush()
        tables: dict[str, dict[Key, Row]] = {}
        found = await self._all_rows(
            [t for t in await self._reflect() if t.name not in BACKGROUND_TABLES]
        )
        for table, rows in found.items():
            keyed: dict[Key, Row] = {}
            key_columns = self._keys[table]
            for row in rows:
                if any(table == t and row.get(c) for t, c in BACKGROUND_ROWS):
                    continue
                keyed[tuple(row[c] for c in key_columns)] = row
            tables[table] = keyed
        files = {
            str(path.relative_to(self.files)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(self.files.rglob("*"))
            if path.is_file()
        }
        return Snapshot(tables, files)

    async def _all_rows(self, tables: list[Table]) -> dict[str, list[Row]]:
        """Every row of these tables, read in one go: a snapshot is taken twice per request,
        and a query per table through the app's driver costs more than the requests.

        Values come as the database's own reading gives them (SQLite: text for times;
        PostgreSQL: JSON), the same way in every snapshot, which is all a comparison needs.
        """
        engine = self.app.state.engine
        if engine.dialect.name == "sqlite":
            with contextlib.closing(sqlite3.connect(str(engine.url.database))) as db:
                db.row_factory = sqlite3.Row
                return {
                    t.name: [dict(r) for r in db.execute(f'SELECT * FROM "{t.name}"')]
                    for t in tables
                }
        query = " UNION ALL ".join(
            f"SELECT '{t.name}' AS name, row_to_json(r)::text AS row FROM \"{t.name}\" r"
            for t in tables
        )
        rows: dict[str, list[Row]] = {t.name: [] for t in tables}
        async with engine.connect() as conn:
            for name, row in (await conn.execute(text(query))).all():
                rows[name].append(json.loads(row))
        return rows

    async def wipe(self) -> None:
        """Delete every row of every table (but the migrations' own) and every stored file."""
        await self.app.state.store.flush()
        async with self.app.state.engine.begin() as conn:
            for table in reversed(await self._reflect()):
                await conn.execute(delete(table))
        if self.files.exists():
            for entry in self.files.iterdir():
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
