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


def upgrade() -> None:
    with op.batch_alter_table("spaces") as batch:
        batch.add_column(
            sa.Column("guests_see_members", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("spaces") as batch:
        batch.drop_column("guests_see_members")
