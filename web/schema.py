"""Tables of the web app (accounts, spaces, pages, guest links, ...) on one MetaData.

Each area adds its tables here or in its own module importing `metadata`; migrations live in
`web/migrations/versions/` and are hand-written (one per area, chained).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
)

from realtime.tables import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Instance roles: admin (the administrators' network), agent, guest.
# Status: active, pending (awaiting an admin's approval), refused, deactivated.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("organisation", String(200), nullable=False, server_default=""),
    Column("password_hash", String(200), nullable=True),
    Column("role", String(16), nullable=False, server_default="agent"),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("locale", String(8), nullable=False, server_default="fr"),
    Column("oidc_subject", String(255), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Server-side sessions: the cookie carries a signed random id; revocation is a column.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the cookie's secret part
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("user_agent", String(300), nullable=False, server_default=""),
)
