"""Throttle rows say what they count: failed sign-ins, reset mails or registrations.

Reset mails and registrations were rows keyed "reset:<email>" and "signup:<address>" among the
failed sign-ins, so they counted against the address's sign-ins; they get their own kind.

Revision ID: 0005k
Revises: 0003a
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005k"
down_revision: str | Sequence[str] | None = "0003a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIXES = {"reset": "reset:", "signup": "signup:"}


def upgrade() -> None:
    op.add_column(
        "login_failures",
        sa.Column("kind", sa.String(16), nullable=False, server_default="sign-in"),
    )
    rows = sa.table("login_failures", sa.column("kind"), sa.column("account"))
    for kind, prefix in PREFIXES.items():
        op.execute(
            rows.update()
            .where(rows.c.account.like(prefix + "%"))
            .values(kind=kind, account=sa.func.substr(rows.c.account, len(prefix) + 1))
        )


def downgrade() -> None:
    rows = sa.table("login_failures", sa.column("kind"), sa.column("account"))
    for kind, prefix in PREFIXES.items():
        op.execute(rows.update().where(rows.c.kind == kind).values(account=prefix + rows.c.account))
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("kind")
