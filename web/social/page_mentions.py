"""Mentions in a page's text: the editor's mention nodes (`@tiptap/extension-mention`, node
type "mention", its `id` attribute a person's id or a group's name), read from the stored
Yjs document on the server — never from a list the client sends.

An editor's client asks for a check after inserting a mention (`POST .../mentions`); the
server reads the document as it is now, notifies each person newly mentioned who may read
the page (once per page: `page_mentions`), and reports those named who may not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import insert, select

from realtime.extract import Block, ExtractError, TextRun, document_blocks
from realtime.rooms import DocumentRooms
from realtime.store import DocumentStore
from web.pages.versions import current_state
from web.social import notify
from web.social.comments import open_item
from web.social.content import mentions_in_blocks
from web.social.errors import SocialForbidden, SocialInvalid
from web.social.model import Outcome, SocialStore, names, person
from web.social.tables import page_mentions
from web.spaces.access import Actor
from web.spaces.tables import pages


def mention_ids(block: Block) -> list[str]:
    """The `id` of every mention node of a document, in order."""

    def walk(node: Block) -> Iterator[str]:
        if node.type == "mention":
            ident = node.attrs.get("id")
            if isinstance(ident, str | int) and not isinstance(ident, bool):
                yield str(ident)
        for child in node.children:
            if not isinstance(child, TextRun):
                yield from walk(child)

    return list(walk(block))


async def check_page_mentions(
    store: SocialStore,
    rooms: DocumentRooms,
    documents: DocumentStore,
    actor: Actor,
    page_id: int,
    now: datetime,
) -> Outcome:
    """Notify the people a page's text newly mentions (editors of the page ask)."""
    async with store.engine.connect() as conn:
        item = await open_item(conn, store, actor, "page", page_id, now)
        if not item.is_editor:
            raise SocialForbidden("Votre rôle ne permet pas de modifier cette page.")
        doc_name = (
            await conn.execute(select(pages.c.doc_name).where(pages.c.id == page_id))
        ).scalar_one()
    try:
        blocks = document_blocks(await current_state(rooms, documents, doc_name))
    except ExtractError:
        raise SocialInvalid("Ce document ne peut pas être lu.") from None
    mentions = mentions_in_blocks(mention_ids(blocks))
    async with store.engine.begin() as conn:
        item = await open_item(conn, store, actor, "page", page_id, now)
        wanted = set(mentions.people) | await notify.group_members(
            conn, item.space_id, mentions.groups
        )
        wanted.discard(actor.id)
        done = set(
            (
                await conn.execute(
                    select(page_mentions.c.user_id).where(page_mentions.c.page_id == page_id)
                )
            ).scalars()
        )
        readers = await store.kinds.readers(conn, "page", page_id, wanted, now)
        new = sorted((wanted & readers) - done)
        for user_id in new:
            await conn.execute(
                insert(page_mentions).values(page_id=page_id, user_id=user_id, created_at=now)
            )
        found = notify.Recipients(reasons=dict.fromkeys(new, "mention"))
        notified = await notify.notify(
            conn,
            item,
            found,
            actor_id=actor.id,
            comment_id=None,
            excerpt=item.title,
            now=now,
            batch_seconds=store.limits.batch_seconds,
            digest_hour=store.limits.digest_hour,
        )
        no_access = [u for u in mentions.people if u != actor.id and u not in readers]
        known = await names(conn, [*new, *no_access])
        events = await notify.live_events(conn, notified)
    body = {
        "mentioned": [person(u, known) for u in new],
        "no_access": [person(u, known) for u in no_access],
    }
    return Outcome(body, events, notified)
