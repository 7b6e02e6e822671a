"""How the social table of the matrix (tests/web/test_access_matrix_social.py) makes each
actor's request: comments made first (the actor's own when the service lets them write one,
else the owner's), notifications to mark read, signed unsubscribe links."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from tests.support.access_matrix import Prepare, Req
from tests.support.matrix_requests import member, someone
from tests.support.matrix_world import MatrixWorld
from tests.support.people import Who
from tests.support.tiptap_documents import document_state, node, paragraph
from web.social import comments
from web.social.errors import SocialError
from web.social.tables import notifications
from web.spaces.access import utcnow


async def a_comment(world: MatrixWorld, author: Who, *, resolved: bool = False) -> int:
    """A new thread on the shared page by `author` (resolved by them if asked); its id."""
    store = world.app.state.social
    made = await comments.create(
        store,
        author,
        "page",
        world.world.page.id,
        "<p>Un commentaire</p>",
        anchor=None,
        quote="",
        thread_id=None,
        now=utcnow(),
    )
    comment_id = int(made.body["comment"]["id"])
    if resolved:
        await comments.set_resolved(store, author, comment_id, True, utcnow())
    return comment_id


def on_comment(
    method: str, path: str, *, own: bool, resolved: bool = False, json: Any = None
) -> Prepare:
    """`method` on a comment made first: the actor's own when `own` and the service lets
    them comment (else the owner's); `{comment}` in `path` is its id."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        author = world.owner
        comment_id = None
        me = world.person(actor)
        if own and me is not None:
            try:
                comment_id = await a_comment(world, me, resolved=resolved)
            except SocialError:
                comment_id = None
        if comment_id is None:
            comment_id = await a_comment(world, author, resolved=resolved)
        url = path.format(**world.fields(actor), comment=comment_id)
        return Req(method, url, json=json, fields={"comment": comment_id})

    return prepare


def send_json(method: str, path: str, body: Any) -> Prepare:
    """A script's call with a JSON body (values may name the world's fields)."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        values = world.fields(actor)
        data = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}
        if data.get("space_id") == "space":
            data["space_id"] = world.space_id
        return Req(method, path.format(**values), json=data, prepared=False)

    return prepare


async def notification_for(world: MatrixWorld, user_id: int) -> int:
    async with world.app.state.engine.begin() as conn:
        made = await conn.execute(
            insert(notifications)
            .values(
                user_id=user_id,
                reason="mention",
                item_kind="page",
                item_id=world.world.page.id,
                space_id=world.space_id,
                created_at=utcnow(),
            )
            .returning(notifications.c.id)
        )
        return int(made.scalar_one())


def on_notification(path: str, *, whose: str) -> Prepare:
    """A POST about a new notification of the actor ("mine"; none for nobody) or the owner's
    ("owner"); `{notification}` in `path` is its id."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        me = world.person(actor)
        target = world.owner if whose == "owner" else me
        notification_id = 0
        if target is not None:
            notification_id = await notification_for(world, target.id)
        url = path.format(**world.fields(actor), notification=notification_id or 1)
        return Req("POST", url, json={}, fields={"notification": notification_id})

    return prepare


def unsubscribe(method: str) -> Prepare:
    """The unsubscribe link of a mail to a new bystander (no session of theirs anywhere)."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        person = await someone(world, "abonne")
        url: str = world.app.state.notification_mails.unsubscribe_url(person.id, 0)
        path = url.split("://", 1)[1].split("/", 1)[1]
        form = {"List-Unsubscribe": "One-Click"} if method == "POST" else None
        return Req(method, "/" + path, form=form, fields={"person": person.id})

    return prepare


async def mentioned_in_page(world: MatrixWorld, actor: str) -> Req:
    """The shared page's text now mentions a new member (a reader of the space)."""
    person = await member(world, "reader", "mentionne")
    typed = document_state(paragraph("Pour ", node("mention", {"id": str(person.id)})))
    await world.app.state.rooms.apply_server_change(world.world.page.doc_name, lambda _: typed)
    path = f"/api/items/page/{world.world.page.id}/mentions"
    return Req("POST", path, json={}, fields={"person": person.id})
