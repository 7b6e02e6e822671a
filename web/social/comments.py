"""Comments on items: threads and replies, edit and delete by their author, resolve and
reopen by editors and the thread's author, a page's text anchors and their orphaned mark.

Who (docs/social.md): whoever may read the item reads its comments; commenters and up write;
a guest link's role applies to its item only (all of it from `web.spaces.access` through
`web.social.items`). Every operation runs in one transaction and answers an `Outcome`: the
JSON body and the live events to publish once committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from web.social import activity, notify
from web.social.content import Mentions, excerpt, mentions_in
from web.social.errors import NOT_FOUND, SocialForbidden, SocialInvalid, SocialNotFound
from web.social.items import Item
from web.social.model import LiveEvent, Outcome, SocialStore, iso, names, person
from web.social.tables import comments, notifications, reactions
from web.spaces.access import MAX_ID, Actor

FILTERS = ("open", "resolved", "all")


def comment_json(
    row: Any, known: dict[int, str], counts: dict[int, list[dict[str, Any]]]
) -> dict[str, Any]:
    deleted = row.deleted_at is not None
    return {
        "id": row.id,
        "thread_id": row.thread_id,
        "author": person(row.author_id, known),
        "body": "" if deleted else row.body,
        "anchor": row.anchor,
        "quote": row.quote,
        "orphaned": bool(row.orphaned),
        "resolved": row.resolved_at is not None,
        "resolved_at": iso(row.resolved_at),
        "resolved_by": person(row.resolved_by, known),
        "created_at": iso(row.created_at),
        "edited": row.edited_at is not None,
        "edited_at": iso(row.edited_at),
        "deleted": deleted,
        "reactions": counts.get(row.id, []),
    }


async def reaction_counts(
    conn: AsyncConnection, comment_ids: Sequence[int], viewer_id: int | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Each comment's reactions: emoji, count, who, and whether the viewer is among them."""
    if not comment_ids:
        return {}
    rows = (
        await conn.execute(
            select(reactions.c.comment_id, reactions.c.emoji, reactions.c.user_id)
            .where(reactions.c.comment_id.in_(list(comment_ids)))
            .order_by(reactions.c.created_at, reactions.c.user_id)
        )
    ).all()
    grouped: dict[int, dict[str, list[int]]] = {}
    for row in rows:
        grouped.setdefault(row.comment_id, {}).setdefault(row.emoji, []).append(row.user_id)
    return {
        cid: [
            {"emoji": e, "count": len(ids), "people": ids, "mine": viewer_id in ids}
            for e, ids in emojis.items()
        ]
        for cid, emojis in grouped.items()
    }


async def open_item(
    conn: AsyncConnection, store: SocialStore, actor: Actor, kind: str, item_id: int, now: datetime
) -> Item:
    item = await store.kinds.open(conn, actor, kind, item_id, now)
    if item is None:
        raise SocialNotFound(NOT_FOUND)
    return item


async def comment_and_item(
    conn: AsyncConnection, store: SocialStore, actor: Actor, comment_id: int, now: datetime
) -> tuple[Any, Item]:
    """A comment and its item as `actor` sees it; 404 when either is not for them."""
    if not 0 < comment_id < MAX_ID:
        raise SocialNotFound(NOT_FOUND)
    row = (await conn.execute(select(comments).where(comments.c.id == comment_id))).first()
    if row is None:
        raise SocialNotFound(NOT_FOUND)
    item = await store.kinds.open(conn, actor, row.item_kind, row.item_id, now)
    if item is None:
        raise SocialNotFound(NOT_FOUND)
    return row, item


async def _rows_json(
    conn: AsyncConnection, rows: Sequence[Any], viewer_id: int
) -> dict[int, dict[str, Any]]:
    known = await names(conn, [r.author_id for r in rows] + [r.resolved_by for r in rows])
    counts = await reaction_counts(conn, [r.id for r in rows], viewer_id)
    return {r.id: comment_json(r, known, counts) for r in rows}


async def threads(
    store: SocialStore, actor: Actor, kind: str, item_id: int, which: str, now: datetime
) -> dict[str, Any]:
    """An item's threads, oldest first, each with its replies; `which`: open, resolved, all."""
    async with store.engine.connect() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        query = select(comments).where(
            comments.c.item_kind == item.kind, comments.c.item_id == item.id
        )
        rows = (await conn.execute(query.order_by(comments.c.id))).all()
        shown = await _rows_json(conn, rows, actor.id)
    roots = [r for r in rows if r.thread_id is None]
    if which == "open":
        roots = [r for r in roots if r.resolved_at is None]
    elif which == "resolved":
        roots = [r for r in roots if r.resolved_at is not None]
    listed = []
    for root in roots:
        replies = [shown[r.id] for r in rows if r.thread_id == root.id]
        if root.deleted_at is not None and all(r["deleted"] for r in replies):
            continue  # a deleted thread with nothing left in it
        listed.append({**shown[root.id], "replies": replies})
    return {
        "item": {"kind": item.kind, "id": item.id, "title": item.title, "url": item.url},
        "threads": listed,
        "can_comment": item.can_comment,
        "can_resolve_all": item.is_editor and item.can_comment,
        "me": actor.id,
    }


def _check_mentions(store: SocialStore, item: Item, mentions: Mentions) -> None:
    if len(mentions) > store.limits.max_mentions:
        raise SocialInvalid(
            "Trop de mentions : %(max)d au plus par message.", max=store.limits.max_mentions
        )
    if mentions.groups and not item.is_editor:
        raise SocialForbidden("Seuls les éditeurs et plus peuvent mentionner un groupe.")


async def _notify(
    conn: AsyncConnection,
    store: SocialStore,
    item: Item,
    actor: Actor,
    comment_id: int,
    thread_id: int | None,
    mentions: Mentions,
    text: str,
    now: datetime,
    *,
    only_mentions: bool = False,
) -> tuple[list[int], dict[str, Any]]:
    found = await notify.recipients(conn, store.kinds, item, actor.id, mentions, thread_id, now)
    if only_mentions:
        found.reasons = {u: r for u, r in found.reasons.items() if r == "mention"}
    notified = await notify.notify(
        conn,
        item,
        found,
        actor_id=actor.id,
        comment_id=comment_id,
        excerpt=excerpt(text),
        now=now,
        batch_seconds=store.limits.batch_seconds,
        digest_hour=store.limits.digest_hour,
    )
    known = await names(conn, [*found.mentioned, *found.no_access])
    report = {
        "mentioned": [person(u, known) for u in found.mentioned],
        "no_access": [person(u, known) for u in found.no_access],
    }
    return notified, report


async def create(
    store: SocialStore,
    actor: Actor,
    kind: str,
    item_id: int,
    body: str,
    *,
    anchor: str | None,
    quote: str,
    thread_id: int | None,
    now: datetime,
) -> Outcome:
    """A new thread (with a text anchor on kinds that have them) or a reply."""
    mentions = mentions_in(body)
    async with store.engine.begin() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        if not item.can_comment:
            raise SocialForbidden("Votre rôle ne permet pas de commenter.")
        _check_mentions(store, item, mentions)
        if thread_id is not None:
            root = (
                await conn.execute(
                    select(comments.c.id).where(
                        comments.c.id == thread_id,
                        comments.c.thread_id.is_(None),
                        comments.c.item_kind == item.kind,
                        comments.c.item_id == item.id,
                    )
                )
            ).first()
            if root is None:
                raise SocialNotFound("Ce fil de discussion n'existe pas.")
            anchor, quote = None, ""
        kind_spec = store.kinds.get(item.kind)
        if anchor is not None and not (kind_spec and kind_spec.anchored):
            raise SocialInvalid("Ce type d'élément n'a pas d'ancre dans le texte.")
        comment_id = (
            await conn.execute(
                insert(comments)
                .values(
                    item_kind=item.kind,
                    item_id=item.id,
                    space_id=item.space_id,
                    thread_id=thread_id,
                    author_id=actor.id,
                    body=body,
                    anchor=anchor,
                    quote=quote,
                    created_at=now,
                )
                .returning(comments.c.id)
            )
        ).scalar_one()
        await activity.record(
            conn, item.space_id, actor.id, "comment.created", item.kind, item.id, item.title, now
        )
        notified, report = await _notify(
            conn, store, item, actor, comment_id, thread_id, mentions, body, now
        )
        row = (await conn.execute(select(comments).where(comments.c.id == comment_id))).one()
        shown = (await _rows_json(conn, [row], actor.id))[comment_id]
        events = [LiveEvent(item.topic, "comment.created", shown)]
        events += await notify.live_events(conn, notified)
    return Outcome({"comment": shown, **report}, events, notified, status=201)


async def edit(
    store: SocialStore,
    actor: Actor,
    comment_id: int,
    *,
    body: str | None,
    orphaned: bool | None,
    now: datetime,
) -> Outcome:
    """Change a comment's text (its author) or its anchor's orphaned mark (commenters)."""
    async with store.engine.begin() as conn:
        row, item = await comment_and_item(conn, store, actor, comment_id, now)
        if row.deleted_at is not None:
            raise SocialNotFound(NOT_FOUND)
        if not item.can_comment:
            raise SocialForbidden("Votre rôle ne permet pas de commenter.")
        values: dict[str, Any] = {}
        notified: list[int] = []
        report: dict[str, Any] = {"mentioned": [], "no_access": []}
        if body is not None and body != row.body:
            if row.author_id != actor.id:
                raise SocialForbidden("Seul son auteur peut modifier un commentaire.")
            before, after = mentions_in(row.body), mentions_in(body)
            _check_mentions(store, item, after)
            values.update(body=body, edited_at=now)
            new = Mentions(
                tuple(p for p in after.people if p not in before.people),
                tuple(g for g in after.groups if g not in before.groups),
            )
            if new:
                notified, report = await _notify(
                    conn,
                    store,
                    item,
                    actor,
                    row.id,
                    row.thread_id,
                    new,
                    body,
                    now,
                    only_mentions=True,
                )
        if orphaned is not None and row.thread_id is None and row.anchor is not None:
            values["orphaned"] = orphaned
        if values:
            await conn.execute(update(comments).where(comments.c.id == row.id).values(**values))
        row = (await conn.execute(select(comments).where(comments.c.id == row.id))).one()
        shown = (await _rows_json(conn, [row], actor.id))[row.id]
        events = [LiveEvent(item.topic, "comment.updated", shown)] if values else []
        events += await notify.live_events(conn, notified)
    return Outcome({"comment": shown, **report}, events, notified)


async def remove(store: SocialStore, actor: Actor, comment_id: int, now: datetime) -> Outcome:
    """Delete a comment (its author): its text goes; a thread's first comment stays as a
    "deleted" mark while replies remain."""
    async with store.engine.begin() as conn:
        row, item = await comment_and_item(conn, store, actor, comment_id, now)
        if row.deleted_at is not None:
            raise SocialNotFound(NOT_FOUND)
        if row.author_id != actor.id or not item.can_comment:
            raise SocialForbidden("Seul son auteur peut supprimer un commentaire.")
        await conn.execute(
            update(comments).where(comments.c.id == row.id).values(deleted_at=now, body="")
        )
        await conn.execute(delete(reactions).where(reactions.c.comment_id == row.id))
        await conn.execute(delete(notifications).where(notifications.c.comment_id == row.id))
    data = {"id": row.id, "thread_id": row.thread_id}
    return Outcome({"deleted": data}, [LiveEvent(item.topic, "comment.deleted", data)])


async def set_resolved(
    store: SocialStore, actor: Actor, comment_id: int, resolved: bool, now: datetime
) -> Outcome:
    """Resolve or reopen a thread: editors and up, and the thread's author."""
    async with store.engine.begin() as conn:
        row, item = await comment_and_item(conn, store, actor, comment_id, now)
        if row.thread_id is not None or row.deleted_at is not None:
            raise SocialInvalid("Seul un fil de discussion se résout ou se rouvre.")
        allowed = item.can_comment and (item.is_editor or row.author_id == actor.id)
        if not allowed:
            raise SocialForbidden(
                "Seuls les éditeurs et l'auteur du fil peuvent le résoudre ou le rouvrir."
            )
        values = (
            {"resolved_at": now, "resolved_by": actor.id}
            if resolved
            else {"resolved_at": None, "resolved_by": None}
        )
        if (row.resolved_at is not None) != resolved:
            await conn.execute(update(comments).where(comments.c.id == row.id).values(**values))
        row = (await conn.execute(select(comments).where(comments.c.id == row.id))).one()
        shown = (await _rows_json(conn, [row], actor.id))[row.id]
    data = {"id": row.id, "resolved": resolved, "by": actor.id, "at": shown["resolved_at"]}
    return Outcome({"comment": shown}, [LiveEvent(item.topic, "comment.resolved", data)])


async def comment_counts(
    conn: AsyncConnection, kind: str, item_ids: Sequence[int]
) -> dict[int, int]:
    """The number of comments (not deleted) on each item of a kind."""
    if not item_ids:
        return {}
    rows = await conn.execute(
        select(comments.c.item_id, func.count())
        .where(
            comments.c.item_kind == kind,
            comments.c.item_id.in_(list(item_ids)),
            comments.c.deleted_at.is_(None),
        )
        .group_by(comments.c.item_id)
    )
    return {row[0]: int(row[1]) for row in rows}
