"""Who a comment notifies, and the notifications themselves.

What notifies (docs/social.md): a mention (people, a role of the space, the whole space); a
reply in a thread one wrote in; a comment on an item one follows. Authors of a page and
everyone who commented on an item follow it without asking; anyone may follow or unfollow an
item or a whole space, or mute a space (its comments and replies stop notifying; mentions
still do). Only people who may read the item now are notified, and never the author.

A notification is made with its mail mode (the person's setting for the space, else their
default, else "immediate"); an immediate one schedules the person's next batched mail, a
daily one their digest (`web.social.mails` sends them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from web.live_topics import person_topic
from web.social.content import GROUPS, Mentions
from web.social.items import Item, ItemKinds
from web.social.model import LiveEvent, insert_missing, iso, names, person
from web.social.tables import comments, follows, mail_settings, notifications, pending_mails
from web.spaces.tables import memberships, pages

REASON_RANK = {"comment": 0, "reply": 1, "mention": 2}
MAIL_MODES = ("immediate", "daily", "off")
FOLLOW_STATES = ("follow", "unfollow", "mute")
LIST_LIMIT = 50


@dataclass
class Recipients:
    """Who gets a notification and why; mentioned people who may not read the item."""

    reasons: dict[int, str] = field(default_factory=dict)
    no_access: list[int] = field(default_factory=list)
    mentioned: list[int] = field(default_factory=list)

    def add(self, user_id: int, reason: str) -> None:
        if REASON_RANK[reason] > REASON_RANK.get(self.reasons.get(user_id, ""), -1):
            self.reasons[user_id] = reason


async def group_members(conn: AsyncConnection, space_id: int, groups: Sequence[str]) -> set[int]:
    """The members a group mention names (`espace`: all of them; else one role's)."""
    if not groups:
        return set()
    query = select(memberships.c.user_id).where(memberships.c.space_id == space_id)
    if "espace" not in groups:
        query = query.where(memberships.c.role.in_([GROUPS[g] for g in groups]))
    return set((await conn.execute(query)).scalars())


async def _choices(conn: AsyncConnection, item: Item) -> tuple[dict[int, str], dict[int, str]]:
    """Explicit choices: on the item (follow/unfollow), on its space (follow/unfollow/mute)."""
    rows = (
        await conn.execute(
            select(
                follows.c.user_id, follows.c.item_kind, follows.c.item_id, follows.c.state
            ).where(
                or_(
                    and_(follows.c.item_kind == item.kind, follows.c.item_id == item.id),
                    and_(follows.c.item_kind == "space", follows.c.item_id == item.space_id),
                )
            )
        )
    ).all()
    on_item = {r.user_id: r.state for r in rows if (r.item_kind, r.item_id) == (item.kind, item.id)}
    on_space = {
        r.user_id: r.state
        for r in rows
        if (r.item_kind, r.item_id) == ("space", item.space_id) and item.kind != "space"
    }
    if item.kind == "space":  # a space's home: the space's choice is the item's
        on_space = dict(on_item)
    return on_item, on_space


async def implicit_followers(conn: AsyncConnection, item: Item) -> set[int]:
    """Who follows an item without asking: its commenters, and a page's author."""
    found = set(
        (
            await conn.execute(
                select(comments.c.author_id)
                .where(
                    comments.c.item_kind == item.kind,
                    comments.c.item_id == item.id,
                    comments.c.author_id.is_not(None),
                )
                .distinct()
            )
        ).scalars()
    )
    if item.kind == "page":
        author = (
            await conn.execute(select(pages.c.created_by).where(pages.c.id == item.id))
        ).scalar()
        if author is not None:
            found.add(author)
    return found


async def follows_item(conn: AsyncConnection, item: Item, user_id: int) -> bool:
    on_item, on_space = await _choices(conn, item)
    return _following(user_id, on_item, on_space, await implicit_followers(conn, item))


def _following(
    user_id: int, on_item: dict[int, str], on_space: dict[int, str], implicit: set[int]
) -> bool:
    choice = on_item.get(user_id)
    if choice is not None:
        return choice == "follow"
    if on_space.get(user_id) in ("follow", "unfollow"):
        return on_space[user_id] == "follow"
    return user_id in implicit


async def recipients(
    conn: AsyncConnection,
    kinds: ItemKinds,
    item: Item,
    author_id: int,
    mentions: Mentions,
    thread_id: int | None,
    now: datetime,
) -> Recipients:
    """Who a new comment notifies (everyone checked against the item's access now)."""
    found = Recipients()
    on_item, on_space = await _choices(conn, item)
    muted = {uid for uid, state in on_space.items() if state == "mute"}
    implicit = await implicit_followers(conn, item)
    mentioned = set(mentions.people) | await group_members(conn, item.space_id, mentions.groups)
    mentioned.discard(author_id)
    candidates: dict[int, str] = {}
    followers = set(on_item) | set(on_space) | implicit
    for uid in followers:
        if uid not in muted and _following(uid, on_item, on_space, implicit):
            candidates[uid] = "comment"
    if thread_id is not None:
        in_thread = (
            await conn.execute(
                select(comments.c.author_id)
                .where(
                    or_(comments.c.id == thread_id, comments.c.thread_id == thread_id),
                    comments.c.author_id.is_not(None),
                )
                .distinct()
            )
        ).scalars()
        for uid in in_thread:
            if uid not in muted:
                candidates[uid] = "reply"
    for uid in mentioned:
        candidates[uid] = "mention"
    candidates.pop(author_id, None)
    readers = await kinds.readers(conn, item.kind, item.id, candidates, now)
    for uid, reason in candidates.items():
        if uid in readers:
            found.add(uid, reason)
    found.mentioned = [uid for uid in mentions.people if uid in readers]
    # Only people named one by one are reported: a group names those who may read.
    found.no_access = [uid for uid in mentions.people if uid != author_id and uid not in readers]
    return found


async def mail_mode(conn: AsyncConnection, user_id: int, space_id: int) -> str:
    rows = dict(
        (
            await conn.execute(
                select(mail_settings.c.space_id, mail_settings.c.mail).where(
                    mail_settings.c.user_id == user_id, mail_settings.c.space_id.in_([0, space_id])
                )
            )
        ).all()
    )
    return str(rows.get(space_id) or rows.get(0) or "immediate")


def next_digest(now: datetime, hour: int) -> datetime:
    moment = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment if moment > now else moment + timedelta(days=1)


async def notify(
    conn: AsyncConnection,
    item: Item,
    found: Recipients,
    *,
    actor_id: int,
    comment_id: int | None,
    excerpt: str,
    now: datetime,
    batch_seconds: float,
    digest_hour: int,
) -> list[int]:
    """Make the notifications (and schedule their mails); the people notified."""
    for user_id, reason in sorted(found.reasons.items()):
        mode = await mail_mode(conn, user_id, item.space_id)
        await conn.execute(
            insert(notifications).values(
                user_id=user_id,
                reason=reason,
                item_kind=item.kind,
                item_id=item.id,
                space_id=item.space_id,
                comment_id=comment_id,
                actor_id=actor_id,
                excerpt=excerpt[:300],
                created_at=now,
                mail=mode,
            )
        )
        if mode == "immediate":
            due = now + timedelta(seconds=batch_seconds)
            await insert_missing(
                conn, pending_mails, {"user_id": user_id, "kind": "batch", "due_at": due}
            )
        elif mode == "daily":
            due = next_digest(now, digest_hour)
            await insert_missing(
                conn, pending_mails, {"user_id": user_id, "kind": "digest", "due_at": due}
            )
    return sorted(found.reasons)


async def unread_counts(conn: AsyncConnection, user_ids: Iterable[int]) -> dict[int, int]:
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(notifications.c.user_id, func.count())
        .where(notifications.c.user_id.in_(wanted), notifications.c.read_at.is_(None))
        .group_by(notifications.c.user_id)
    )
    counts = {uid: 0 for uid in wanted}
    counts.update({row[0]: int(row[1]) for row in rows})
    return counts


async def latest_for(conn: AsyncConnection, user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each person's newest notification, as the bell shows it."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    newest = (
        select(func.max(notifications.c.id))
        .where(notifications.c.user_id.in_(wanted))
        .group_by(notifications.c.user_id)
    )
    rows = (await conn.execute(select(notifications).where(notifications.c.id.in_(newest)))).all()
    known = await names(conn, [r.actor_id for r in rows])
    return {row.user_id: notification_json(row, known) for row in rows}


def notification_json(row: Any, known: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "reason": row.reason,
        "item": {"kind": row.item_kind, "id": row.item_id},
        "comment_id": row.comment_id,
        "actor": person(row.actor_id, known),
        "excerpt": row.excerpt,
        "created_at": iso(row.created_at),
        "read": row.read_at is not None,
    }


async def live_events(conn: AsyncConnection, user_ids: Sequence[int]) -> list[LiveEvent]:
    """`notification.created` for each person notified, with their unread count."""
    counts = await unread_counts(conn, user_ids)
    latest = await latest_for(conn, user_ids)
    return [
        LiveEvent(
            person_topic(uid),
            "notification.created",
            {"notification": latest.get(uid), "unread": counts.get(uid, 0)},
        )
        for uid in user_ids
    ]


async def mark_read(
    conn: AsyncConnection, user_id: int, notification_id: int | None, now: datetime
) -> int:
    """Mark one (or, with None, every) notification of the person read; how many changed."""
    query = update(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None)
    )
    if notification_id is not None:
        query = query.where(notifications.c.id == notification_id)
    result = await conn.execute(query.values(read_at=now))
    return int(result.rowcount or 0)
