"""Tables of the web app (accounts, spaces, pages, guest links, ...) on one MetaData.

Each area adds its tables here or in its own module importing `metadata`; migrations live in
`web/migrations/versions/` and are hand-written (one per area, chained).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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
    # Added by 0003a: who reviewed a registration, and the last sign-in.
    Column("reviewed_by", Integer, nullable=True),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
    # Added by 0007z: the IANA zone times are shown in (None: Europe/Paris, web/local_time.py).
    Column("time_zone", String(64), nullable=True),
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
    # Added by 0003a: a guest session opened through a guest link is scoped to that link
    # (no foreign key: guest_links belongs to another migration branch).
    Column("guest_link_id", Integer, nullable=True, index=True),
)

# Revoking every session of a user (sign out everywhere, deactivation) looks them up by user.
Index("ix_sessions_user_id", sessions.c.user_id)

# --- Accounts and mail (migration 0003a) ---------------------------------------------------

# One-use tokens mailed to a person: password reset, address confirmation. Only the sha256
# of the token is kept, so a database dump cannot be replayed as links.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),  # 'reset' | 'confirm'
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

# Every mail the instance sends lands here first: with no SMTP server configured, instance
# admins read it at /admin/courriels, so a fresh install works end to end.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("to_address", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("error", String(500), nullable=False, server_default=""),
)

# The one-time link printed on first start to create the first administrator (hashed).
first_admin_tokens = Table(
    "first_admin_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

# Failed sign-ins (kind "sign-in"), reset mails ("reset") and registrations ("signup"),
# counted per account (or other key) and per address over a window by web/auth/throttle.py;
# in the database so that the limits hold across workers and machines.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, server_default="sign-in"),
    Column("account", String(320), nullable=False, index=True),
    Column("address", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)

# --- Run-time settings and the administrators' log (migration 0007z) ----------------------

# Instance settings administrators change at run time (web/accounts/instance.py says which);
# a setting with no row has its environment value (web/config.py).
instance_settings = Table(
    "instance_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Integer, nullable=True),
)

# Every change an administrator makes (settings, roles, registrations, accounts): who, when,
# what. The actor's name is copied so the line still reads after the account is gone.
admin_audit = Table(
    "admin_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor_id", Integer, nullable=True),
    Column("actor_name", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String(320), nullable=False, server_default=""),
    Column("before", Text, nullable=False, server_default=""),
    Column("after", Text, nullable=False, server_default=""),
)
