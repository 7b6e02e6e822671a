"""Reactions on comments (a small fixed set of emoji), recommend on pages and spaces, up/down
votes on the kinds that ask for them, and following items. One per person and thing; each
call says the state wanted (`on`), or toggles when it does not: calling twice with the same
state changes nothing.

Who: commenters and up react, recommend and vote; whoever may read an item may follow it
(spaces may also be muted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from web.social.comments import comment_and_item, open_item, reaction_counts
from web.social.content import EMOJIS
from web.social.errors import NOT_FOUND, SocialForbidden, SocialInvalid, SocialNotFound
from web.social.items import Item
from web.social.model import LiveEvent, Outcome, SocialStore, insert_missing, names, person
from web.social.notify import FOLLOW_STATES, follows_item
from web.social.tables import appreciations, follows, reactions
from web.spaces.access import Actor


def _forbid_unless_commenter(item: Item) -> None:
    if not item.can_comment:
        raise SocialForbidden("Votre rôle ne permet pas de réagir.")


async def react(
    store: SocialStore, actor: Actor, comment_id: int, emoji: str, on: bool | None, now: datetime
) -> Outcome:
    if emoji not in EMOJIS:
        raise SocialInvalid("Réaction inconnue.")
    async with store.engine.begin() as conn:
        row, item = await comment_and_item(conn, store, actor, comment_id, now)
        if row.deleted_at is not None:
            raise SocialNotFound(NOT_FOUND)
        _forbid_unless_commenter(item)
        key = and_(
            reactions.c.comment_id == row.id,
            reactions.c.user_id == actor.id,
            reactions.c.emoji == emoji,
        )
        there = (await conn.execute(select(reactions.c.emoji).where(key))).first() is not None
        wanted = (not there) if on is None else on
        if wanted and not there:
            values = {"comment_id": row.id, "user_id": actor.id, "emoji": emoji, "created_at": now}
            await insert_missing(conn, reactions, values)
        elif there and not wanted:
            await conn.execute(delete(reactions).where(key))
        counts = (await reaction_counts(conn, [row.id], actor.id)).get(row.id, [])
    data = {"comment_id": row.id, "reactions": [{**r, "mine": False} for r in counts]}
    body = {"comment_id": row.id, "on": wanted, "reactions": counts}
    events = [LiveEvent(item.topic, "reaction.changed", data)] if wanted != there else []
    return Outcome(body, events)


async def _appreciation(
    conn: AsyncConnection, item: Item, kind: str, viewer_id: int
) -> dict[str, Any]:
    rows = (
        await conn.execute(
            select(appreciations.c.user_id, appreciations.c.value)
            .where(
                appreciations.c.item_kind == item.kind,
                appreciations.c.item_id == item.id,
                appreciations.c.kind == kind,
            )
            .order_by(appreciations.c.created_at, appreciations.c.user_id)
        )
    ).all()
    known = await names(conn, [r.user_id for r in rows])
    if kind == "vote":
        return {
            "score": sum(r.value for r in rows),
            "up": sum(1 for r in rows if r.value > 0),
            "down": sum(1 for r in rows if r.value < 0),
            "mine": next((r.value for r in rows if r.user_id == viewer_id), 0),
        }
    return {
        "count": len(rows),
        "people": [person(r.user_id, known) for r in rows],
        "mine": any(r.user_id == viewer_id for r in rows),
    }


async def recommendations(
    store: SocialStore, actor: Actor, kind: str, item_id: int, now: datetime
) -> dict[str, Any]:
    async with store.engine.connect() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        spec = store.kinds.get(item.kind)
        if spec is None or not spec.recommend:
            raise SocialNotFound(NOT_FOUND)
        return await _appreciation(conn, item, "recommend", actor.id)


async def _set_value(
    conn: AsyncConnection, item: Item, actor: Actor, kind: str, value: int, now: datetime
) -> bool:
    """Set the person's recommend or vote (0: none); whether anything changed."""
    key = and_(
        appreciations.c.item_kind == item.kind,
        appreciations.c.item_id == item.id,
        appreciations.c.user_id == actor.id,
        appreciations.c.kind == kind,
    )
    current = (await conn.execute(select(appreciations.c.value).where(key))).scalar()
    if (current or 0) == value:
        return False
    if value == 0:
        await conn.execute(delete(appreciations).where(key))
    elif current is None:
        await conn.execute(
            insert(appreciations).values(
                item_kind=item.kind,
                item_id=item.id,
                user_id=actor.id,
                kind=kind,
                value=value,
                space_id=item.space_id,
                created_at=now,
            )
        )
    else:
        await conn.execute(update(appreciations).where(key).values(value=value))
    return True


async def recommend(
    store: SocialStore, actor: Actor, kind: str, item_id: int, on: bool | None, now: datetime
) -> Outcome:
    async with store.engine.begin() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        spec = store.kinds.get(item.kind)
        if spec is None or not spec.recommend:
            raise SocialNotFound(NOT_FOUND)
        _forbid_unless_commenter(item)
        before = await _appreciation(conn, item, "recommend", actor.id)
        wanted = (not before["mine"]) if on is None else on
        changed = await _set_value(conn, item, actor, "recommend", 1 if wanted else 0, now)
        after = await _appreciation(conn, item, "recommend", actor.id)
    data = {
        "item": {"kind": item.kind, "id": item.id},
        "count": after["count"],
        "people": after["people"],
    }
    events = [LiveEvent(item.topic, "recommend.changed", data)] if changed else []
    return Outcome(after, events)


async def vote(
    store: SocialStore, actor: Actor, kind: str, item_id: int, value: int, now: datetime
) -> Outcome:
    """Up (1), down (-1) or no (0) vote, on a kind that asks for votes."""
    if value not in (-1, 0, 1):
        raise SocialInvalid("Un vote vaut 1, -1 ou 0.")
    async with store.engine.begin() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        spec = store.kinds.get(item.kind)
        if spec is None or not spec.votes:
            raise SocialNotFound(NOT_FOUND)
        _forbid_unless_commenter(item)
        changed = await _set_value(conn, item, actor, "vote", value, now)
        after = await _appreciation(conn, item, "vote", actor.id)
    data = {
        "item": {"kind": item.kind, "id": item.id},
        "score": after["score"],
        "up": after["up"],
        "down": after["down"],
    }
    events = [LiveEvent(item.topic, "vote.changed", data)] if changed else []
    return Outcome(after, events)


async def _follow_state(conn: AsyncConnection, item: Item, actor: Actor) -> dict[str, Any]:
    choice = (
        await conn.execute(
            select(follows.c.state).where(
                follows.c.user_id == actor.id,
                follows.c.item_kind == item.kind,
                follows.c.item_id == item.id,
            )
        )
    ).scalar()
    return {
        "following": await follows_item(conn, item, actor.id),
        "choice": choice,
        "muted": item.kind == "space" and choice == "mute",
    }


async def following(
    store: SocialStore, actor: Actor, kind: str, item_id: int, now: datetime
) -> dict[str, Any]:
    async with store.engine.connect() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        return await _follow_state(conn, item, actor)


async def set_following(
    store: SocialStore, actor: Actor, kind: str, item_id: int, state: str | None, now: datetime
) -> Outcome:
    """Follow, unfollow or (a space) mute; None forgets the choice (back to the default)."""
    if state is not None and state not in FOLLOW_STATES:
        raise SocialInvalid("Choix : follow, unfollow, mute ou null.")
    async with store.engine.begin() as conn:
        item = await open_item(conn, store, actor, kind, item_id, now)
        if state == "mute" and item.kind != "space":
            raise SocialInvalid("Seul un espace se met en sourdine.")
        key = and_(
            follows.c.user_id == actor.id,
            follows.c.item_kind == item.kind,
            follows.c.item_id == item.id,
        )
        await conn.execute(delete(follows).where(key))
        if state is not None:
            await conn.execute(
                insert(follows).values(
                    user_id=actor.id,
                    item_kind=item.kind,
                    item_id=item.id,
                    space_id=item.space_id,
                    state=state,
                    created_at=now,
                )
            )
        return Outcome(await _follow_state(conn, item, actor))
