"""The social layer: comments, reactions, recommend and votes, follows, notifications, their
mail settings and pending mails, the activity feed; mails get an HTML part and headers.

Revision ID: 0007so
Revises: 0006tk, 0005k
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007so"
# Also after 0005k: the outbox (0003a, whose branch ends at 0005k) gets two columns.
down_revision: str | Sequence[str] | None = ("0006tk", "0005k")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str = "created_at", *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _fk(table: str, column: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    other = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{other}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("anchor", sa.Text(), nullable=True),
        sa.Column("quote", sa.String(500), nullable=False, server_default=""),
        sa.Column("orphaned", sa.Boolean(), nullable=False, server_default="0"),
        _at("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        _at(),
        _at("edited_at", nullable=True),
        _at("deleted_at", nullable=True),
        _fk("comments", "space_id", "spaces.id", "CASCADE"),
        _fk("comments", "thread_id", "comments.id", "CASCADE"),
        _fk("comments", "author_id", "users.id", "SET NULL"),
        _fk("comments", "resolved_by", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index("ix_comments_item", "comments", ["item_kind", "item_id"])
    op.create_index("ix_comments_thread_id", "comments", ["thread_id"])
    op.create_index("ix_comments_space_id", "comments", ["space_id"])
    op.create_table(
        "comment_reactions",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("emoji", sa.String(16), nullable=False),
        _at(),
        _fk("comment_reactions", "comment_id", "comments.id", "CASCADE"),
        _fk("comment_reactions", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint(
            "comment_id", "user_id", "emoji", name=op.f("pk_comment_reactions")
        ),
    )
    op.create_table(
        "appreciations",
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("space_id", sa.Integer(), nullable=False),
        _at(),
        _fk("appreciations", "user_id", "users.id", "CASCADE"),
        _fk("appreciations", "space_id", "spaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint(
            "item_kind", "item_id", "user_id", "kind", name=op.f("pk_appreciations")
        ),
        sa.CheckConstraint("value IN (-1, 1)", name=op.f("ck_appreciations_value_one")),
    )
    op.create_table(
        "follows",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        _at(),
        _fk("follows", "user_id", "users.id", "CASCADE"),
        _fk("follows", "space_id", "spaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "item_kind", "item_id", name=op.f("pk_follows")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("excerpt", sa.String(300), nullable=False, server_default=""),
        _at(),
        _at("read_at", nullable=True),
        sa.Column("mail", sa.String(12), nullable=False, server_default="immediate"),
        _at("mailed_at", nullable=True),
        _fk("notifications", "user_id", "users.id", "CASCADE"),
        _fk("notifications", "space_id", "spaces.id", "CASCADE"),
        _fk("notifications", "comment_id", "comments.id", "CASCADE"),
        _fk("notifications", "actor_id", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_id_read_at", "notifications", ["user_id", "read_at"])
    op.create_table(
        "notification_mail_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("mail", sa.String(12), nullable=False),
        _fk("notification_mail_settings", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "space_id", name=op.f("pk_notification_mail_settings")),
    )
    op.create_table(
        "pending_mails",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        _fk("pending_mails", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_pending_mails")),
    )
    op.create_index("ix_pending_mails_due_at", "pending_mails", ["due_at"])
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False, server_default=""),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False, server_default=""),
        _at(),
        _fk("activities", "space_id", "spaces.id", "CASCADE"),
        _fk("activities", "actor_id", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    op.create_index("ix_activities_space_id_id", "activities", ["space_id", "id"])
    op.create_table(
        "page_mentions",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _at(),
        _fk("page_mentions", "page_id", "pages.id", "CASCADE"),
        _fk("page_mentions", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("page_id", "user_id", name=op.f("pk_page_mentions")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("html", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("headers")
        batch.drop_column("html")
    for table in (
        "page_mentions",
        "activities",
        "pending_mails",
        "notification_mail_settings",
        "notifications",
        "follows",
        "appreciations",
        "comment_reactions",
        "comments",
    ):
        op.drop_table(table)
