"""Database tables of the realtime engine: document snapshots and their update logs."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DOCUMENT_NAME_MAX_LENGTH = 512

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# One row per document that has been compacted at least once. `snapshot_updates` counts the
# log rows merged into the snapshot over its life; it only grows, so the store also uses it
# as the snapshot's version when two compactions race.
documents = Table(
    "documents",
    metadata,
    Column("name", String(DOCUMENT_NAME_MAX_LENGTH), primary_key=True),
    Column("snapshot", LargeBinary, nullable=False),
    Column("snapshot_updates", BigInteger, nullable=False, default=0),
    Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
    ),
)

# The append-only log of Yjs updates not yet merged into the snapshot. No foreign key to
# `documents`: appending must not need a documents row (one INSERT per group commit).
document_updates = Table(
    "document_updates",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("name", String(DOCUMENT_NAME_MAX_LENGTH), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column(
        "created_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
    ),
    # (name, id): reading a document's log in order and deleting its merged prefix.
    Index("ix_document_updates_name_id", "name", "id"),
)
