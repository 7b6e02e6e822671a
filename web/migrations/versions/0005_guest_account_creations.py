"""Guest accounts made through guest links, by client address (the hourly limit per address).

Revision ID: 0005g
Revises: 0004v
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005g"
down_revision: str | Sequence[str] | None = "0004v"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guest_account_creations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_account_creations")),
    )
    op.create_index(
        op.f("ix_guest_account_creations_address"), "guest_account_creations", ["address"]
    )
    op.create_index(op.f("ix_guest_account_creations_at"), "guest_account_creations", ["at"])


def downgrade() -> None:
    op.drop_table("guest_account_creations")
