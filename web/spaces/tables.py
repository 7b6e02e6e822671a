"""Tables of spaces, memberships, invitations, the pages tree and guest links.

They live on `web.schema.metadata`; migration 0003s creates them (0005g: guest account
creations by address; 0007: whether guests see the members).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)

from web.schema import metadata

SPACE_KINDS = ("project", "community")
VISIBILITIES = ("private", "listed")
# Space roles, weakest first.
SPACE_ROLES = ("reader", "commenter", "editor", "admin", "owner")
LINK_ROLES = ("reader", "commenter", "editor")

spaces = Table(
    "spaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("kind", String(16), nullable=False, server_default="project"),
    Column("name", String(200), nullable=False),
    # Sanitised HTML (nh3): a few inline tags, links and paragraphs.
    Column("description", Text, nullable=False, server_default=""),
    Column("visibility", String(16), nullable=False, server_default="private"),
    Column("archived_at", DateTime(timezone=True), nullable=True),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Whether guests (guest accounts, guest links) see who the members are (migration 0007).
    Column("guests_see_members", Boolean, nullable=False, server_default=false()),
)

memberships = Table(
    "memberships",
    metadata,
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_memberships_user_id", "user_id"),
)

# An invitation by email: the invited person (an agent, or a new guest account) is a member at
# once; the token lets an outsider who has no password yet open a session from the mail.
invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("invited_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
)

pages = Table(
    "pages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer, ForeignKey("pages.id", ondelete="CASCADE"), nullable=True),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("title", String(200), nullable=False),
    Column("doc_name", String(100), nullable=False, unique=True),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # In the trash since then; purged after the retention period.
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Index("ix_pages_space_id_parent_id", "space_id", "parent_id"),
)

guest_links = Table(
    "guest_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("page_id", Integer, ForeignKey("pages.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(16), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_guest_links_space_id", "space_id"),
)

# The guest accounts a link made: one row per person who opened it with a display name.
guest_link_users = Table(
    "guest_link_users",
    metadata,
    Column(
        "guest_link_id",
        Integer,
        ForeignKey("guest_links.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    UniqueConstraint("user_id", name="uq_guest_link_users_user_id"),
)

# Guest accounts made by opening guest links, by client address, for the hourly limit per
# address (ATELIER_GUEST_ACCOUNTS_PER_ADDRESS); rows older than the window are pruned as new
# ones come. In the database so that the limit holds across workers and machines.
guest_account_creations = Table(
    "guest_account_creations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)
