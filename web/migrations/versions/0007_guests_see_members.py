"""Spaces: whether guests see who the members are (off by default).

Revision ID: 0007gm
Revises: 0006tk
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007gm"
down_revision: str | Sequence[str] | None = "0006tk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite has DROP COLUMN since 3.35): a batch copy of
# `spaces` would drop the old table, and SQLite's cascades would take its pages with it.


def upgrade() -> None:
    op.add_column(
        "spaces",
        sa.Column("guests_see_members", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("spaces", "guests_see_members")
