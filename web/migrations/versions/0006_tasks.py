"""Tasks: board settings, columns, tasks, assignees, labels, checklists, dependencies.

Revision ID: 0006tk
Revises: 0005g
Create Date: 2026-12-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006tk"
down_revision: str | Sequence[str] | None = "0005g"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _order_key() -> sa.types.TypeEngine[str]:
    # Order keys compare bytewise ("C" collation on PostgreSQL).
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def _created_at(name: str = "created_at") -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _fk(table: str, column: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    other = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{other}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "task_boards",
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("skip_non_working", sa.Boolean(), nullable=False, server_default="1"),
        _created_at(),
        _fk("task_boards", "space_id", "spaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_task_boards")),
    )
    op.create_table(
        "task_columns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", _order_key(), nullable=False),
        sa.Column("wip_limit", sa.Integer(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False, server_default="0"),
        _created_at(),
        _fk("task_columns", "space_id", "spaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_columns")),
    )
    op.create_index("ix_task_columns_space_id", "task_columns", ["space_id"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("column_id", sa.Integer(), nullable=False),
        sa.Column("order_key", _order_key(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("doc_name", sa.String(100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("estimate_hours", sa.Float(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("milestone", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("field_versions", sa.JSON(), nullable=False),
        sa.Column("source_page_id", sa.Integer(), nullable=True),
        sa.Column("source_item", sa.String(64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _created_at(),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        _created_at("updated_at"),
        _fk("tasks", "space_id", "spaces.id", "CASCADE"),
        _fk("tasks", "column_id", "task_columns.id", None),
        _fk("tasks", "parent_id", "tasks.id", "SET NULL"),
        _fk("tasks", "source_page_id", "pages.id", "SET NULL"),
        _fk("tasks", "created_by", "users.id", "SET NULL"),
        _fk("tasks", "updated_by", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("doc_name", name=op.f("uq_tasks_doc_name")),
        sa.UniqueConstraint("column_id", "order_key", name="uq_tasks_column_id_order_key"),
        sa.UniqueConstraint(
            "source_page_id", "source_item", name="uq_tasks_source_page_id_source_item"
        ),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 100", name=op.f("ck_tasks_progress_range")
        ),
    )
    op.create_index("ix_tasks_space_id", "tasks", ["space_id"])
    op.create_index("ix_tasks_parent_id", "tasks", ["parent_id"])
    op.create_table(
        "task_assignees",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _fk("task_assignees", "task_id", "tasks.id", "CASCADE"),
        _fk("task_assignees", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "user_id", name=op.f("pk_task_assignees")),
    )
    op.create_index("ix_task_assignees_user_id", "task_assignees", ["user_id"])
    op.create_table(
        "task_labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("colour", sa.String(7), nullable=False),
        _fk("task_labels", "space_id", "spaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_labels")),
        sa.UniqueConstraint("space_id", "name", name="uq_task_labels_space_id_name"),
    )
    op.create_table(
        "task_label_links",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        _fk("task_label_links", "task_id", "tasks.id", "CASCADE"),
        _fk("task_label_links", "label_id", "task_labels.id", "CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "label_id", name=op.f("pk_task_label_links")),
    )
    op.create_index("ix_task_label_links_label_id", "task_label_links", ["label_id"])
    op.create_table(
        "task_checklist_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("position", _order_key(), nullable=False),
        _fk("task_checklist_items", "task_id", "tasks.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_checklist_items")),
    )
    op.create_index("ix_task_checklist_items_task_id", "task_checklist_items", ["task_id"])
    op.create_table(
        "task_dependencies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("predecessor_id", sa.Integer(), nullable=False),
        sa.Column("successor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(2), nullable=False, server_default="FS"),
        sa.Column("lag_days", sa.Integer(), nullable=False, server_default="0"),
        _fk("task_dependencies", "space_id", "spaces.id", "CASCADE"),
        _fk("task_dependencies", "predecessor_id", "tasks.id", "CASCADE"),
        _fk("task_dependencies", "successor_id", "tasks.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_dependencies")),
        sa.UniqueConstraint(
            "predecessor_id",
            "successor_id",
            name="uq_task_dependencies_predecessor_id_successor_id",
        ),
        sa.CheckConstraint(
            "predecessor_id <> successor_id", name=op.f("ck_task_dependencies_not_itself")
        ),
    )
    op.create_index("ix_task_dependencies_space_id", "task_dependencies", ["space_id"])
    op.create_index("ix_task_dependencies_successor_id", "task_dependencies", ["successor_id"])


def downgrade() -> None:
    for table in (
        "task_dependencies",
        "task_checklist_items",
        "task_label_links",
        "task_labels",
        "task_assignees",
        "tasks",
        "task_columns",
        "task_boards",
    ):
        op.drop_table(table)
