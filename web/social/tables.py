"""Tables of the social layer: comments (keyed by item: kind + id), reactions, votes and
recommendations, follows, notifications, mail settings and pending mails, the activity feed.

Items are not foreign keys: a comment names its item by kind ("page", "space"; tasks, events,
files and posts later) and id, and its space (a foreign key, so a deleted space takes its
comments with it). A page moved to the trash keeps its comments: they are hidden with it and
come back when it is restored.

On `web.schema.metadata`; migration 0007so creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)

from web.schema import metadata

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_kind", String(16), nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    # None: the first comment of a thread; else the thread's first comment.
    Column("thread_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=True),
    Column("author_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("body", Text, nullable=False),  # sanitised HTML
    # A thread on a page's text: Yjs relative positions from the client, stored as given.
    Column("anchor", Text, nullable=True),
    Column("quote", String(500), nullable=False, server_default=""),
    Column("orphaned", Boolean, nullable=False, server_default="0"),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("edited_at", DateTime(timezone=True), nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Index("ix_comments_item", "item_kind", "item_id"),
    Index("ix_comments_thread_id", "thread_id"),
    Index("ix_comments_space_id", "space_id"),
)

reactions = Table(
    "comment_reactions",
    metadata,
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("emoji", String(16), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# "recommend" (value 1) on pages and spaces; "vote" (+1 / -1) on kinds that ask for votes.
appreciations = Table(
    "appreciations",
    metadata,
    Column("item_kind", String(16), primary_key=True),
    Column("item_id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", Integer, nullable=False, server_default="1"),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("value IN (-1, 1)", name="value_one"),
)

# A person's choice on an item (a page, or a space: all its items): follow, unfollow, mute
# (spaces only). No row: authors and commenters follow, others do not.
follows = Table(
    "follows",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("item_kind", String(16), primary_key=True),
    Column("item_id", Integer, primary_key=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("reason", String(16), nullable=False),  # mention | reply | comment
    Column("item_kind", String(16), nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=True),
    Column("actor_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("excerpt", String(300), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True), nullable=True),
    # immediate | daily | off, decided when made; mailed_at once in a mail.
    Column("mail", String(12), nullable=False, server_default="immediate"),
    Column("mailed_at", DateTime(timezone=True), nullable=True),
    Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
)

# Mail of notifications, per person: space_id 0 is the person's default for every space.
mail_settings = Table(
    "notification_mail_settings",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("space_id", Integer, primary_key=True, autoincrement=False),
    Column("mail", String(12), nullable=False),
)

# A mail of notifications to send at `due_at` ("batch": the 2-minute window; "digest": the
# daily digest). One row per person and kind: whichever worker deletes it sends the mail.
pending_mails = Table(
    "pending_mails",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Index("ix_pending_mails_due_at", "due_at"),
)

activities = Table(
    "activities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("space_id", Integer, ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    Column("actor_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # page.created | page.renamed | page.restored | comment.created | member.joined
    Column("kind", String(24), nullable=False),
    Column("item_kind", String(16), nullable=False, server_default=""),
    Column("item_id", Integer, nullable=True),
    Column("title", String(200), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_activities_space_id_id", "space_id", "id"),
)

# People already notified of a mention in a page's text (each once, whoever checks again).
page_mentions = Table(
    "page_mentions",
    metadata,
    Column("page_id", Integer, ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
