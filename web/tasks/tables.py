"""Tables of tasks: a space's board settings, columns, tasks, assignees, labels, checklists
and dependencies. Rows are the source of truth; only a task's description is a Yjs document
(`tasks.doc_name`, authorised like a page's by `web.spaces.access.document_role`).

On `web.schema.metadata`; migration 0006tk creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeEngine

from web.schema import metadata

# Order keys (web.tasks.fractional) compare bytewise: "C" collation on PostgreSQL, whose
# default collations put "a" before "B"; SQLite compares bytes already.
ORDER_KEY_LENGTH = 128


def order_key_type() -> TypeEngine[str]:
    return String(ORDER_KEY_LENGTH).with_variant(
        String(ORDER_KEY_LENGTH, collation="C"), "postgresql"
    )


LINK_KINDS = ("FS", "SS", "FF", "SF")

# One row per space that has opened its board: its settings (the default columns are made
# with it).
task_boards = Table(
    "task_boards",
    metadata,
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True),
    # Plans count working days: weekends and French public holidays skipped.
    Column("skip_non_working", Boolean, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

task_columns = Table(
    "task_columns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("position", order_key_type(), nullable=False),
    Column("wip_limit", Integer, nullable=True),
    # Tasks here are finished: never overdue, listed apart in "Mes tâches".
    Column("done", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_task_columns_space_id", "space_id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("column_id", Integer, ForeignKey("task_columns.id"), nullable=False),
    Column("order_key", order_key_type(), nullable=False),
    Column("title", String(300), nullable=False),
    Column("doc_name", String(100), nullable=False, unique=True),
    Column("start_date", Date, nullable=True),
    Column("due_date", Date, nullable=True),
    Column("estimate_hours", Float, nullable=True),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("milestone", Boolean, nullable=False, server_default="0"),
    Column("parent_id", Integer, ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True),
    Column("archived_at", DateTime(timezone=True), nullable=True),
    # Bumped by every change; `field_versions` says at which version each field (and each
    # checklist item) last changed, so that a stale update is refused field by field.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("field_versions", JSON, nullable=False),
    # A checklist item of a page turned into this task: the page and the item's own id.
    Column("source_page_id", Integer, ForeignKey("pages.id", ondelete="SET NULL"), nullable=True),
    Column("source_item", String(64), nullable=True),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Two cards never share a place: a move that lands on a taken key is given another.
    UniqueConstraint("column_id", "order_key", name="uq_tasks_column_id_order_key"),
    UniqueConstraint("source_page_id", "source_item", name="uq_tasks_source_page_id_source_item"),
    CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
    Index("ix_tasks_space_id", "space_id"),
    Index("ix_tasks_parent_id", "parent_id"),
)

task_assignees = Table(
    "task_assignees",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_assignees_user_id", "user_id"),
)

task_labels = Table(
    "task_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("colour", String(7), nullable=False),  # "#rrggbb"
    UniqueConstraint("space_id", "name", name="uq_task_labels_space_id_name"),
)

task_label_links = Table(
    "task_label_links",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", Integer, ForeignKey("task_labels.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_label_links_label_id", "label_id"),
)

task_checklist_items = Table(
    "task_checklist_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("text", String(500), nullable=False),
    Column("done", Boolean, nullable=False, server_default="0"),
    Column("position", order_key_type(), nullable=False),
    Index("ix_task_checklist_items_task_id", "task_id"),
)

task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("predecessor_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("successor_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(2), nullable=False, server_default="FS"),
    Column("lag_days", Integer, nullable=False, server_default="0"),
    UniqueConstraint(
        "predecessor_id", "successor_id", name="uq_task_dependencies_predecessor_id_successor_id"
    ),
    CheckConstraint("predecessor_id <> successor_id", name="not_itself"),
    Index("ix_task_dependencies_space_id", "space_id"),
    Index("ix_task_dependencies_successor_id", "successor_id"),
)
