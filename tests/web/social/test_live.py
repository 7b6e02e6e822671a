"""The social layer live, through a real server and real `/live` sockets: a comment, its
resolution, a reaction and a recommendation reach everyone viewing the page; a mention
reaches the bell of the person mentioned with their unread count; who may follow which
item topic."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import select

from tests.support.live_viewers import LiveViewer
from tests.support.servers import AtelierServer
from tests.support.social import SocialApi, mention
from tests.support.waiting import eventually
from tests.support.worlds import LiveWorld, live_world
from web.auth.sessions import COOKIE_NAME
from web.schema import outbox, users

Start = Callable[..., AtelierServer]


def person(server: AtelierServer, world: LiveWorld, actor: str) -> SocialApi:
    cookie = world.cookies[actor].split("=", 1)[1]
    return SocialApi(httpx.AsyncClient(base_url=server.http_url, cookies={COOKIE_NAME: cookie}))


async def test_comments_reach_every_viewer_and_a_mention_rings_the_bell(atelier: Start) -> None:
    server = atelier()
    world = await live_world(server)
    topic = f"item:page:{world.page.id}"
    viewers = {}
    for actor in ("reader", "owner", "page_link_editor"):
        viewer = await LiveViewer(server.http_url, world.cookies[actor]).connect()
        assert await viewer.subscribe(topic) == "subscribed"
        viewers[actor] = viewer
    editor = person(server, world, "editor")
    made = await editor.comment(
        "page", world.page.id, f"<p>Relis ça {mention(world.ids['reader'], 'reader')}</p>"
    )
    comment_id = made["comment"]["id"]
    for viewer in viewers.values():
        event = await viewer.event("comment.created")
        assert event["topic"] == topic and event["data"]["id"] == comment_id
        assert "Relis ça" in event["data"]["body"]
    bell = await viewers["reader"].event("notification.created")
    assert bell["topic"] == f"user:{world.ids['reader']}"
    assert bell["data"]["unread"] == 1
    assert bell["data"]["notification"]["reason"] == "mention"
    owner_bell = await viewers["owner"].event("notification.created")  # the page's author
    assert owner_bell["data"]["notification"]["reason"] == "comment"
    await editor.ok("POST", f"/api/commentaires/{comment_id}/resoudre")
    resolved = await viewers["reader"].event("comment.resolved")
    assert resolved["data"]["resolved"] is True and resolved["data"]["by"] == world.ids["editor"]
    await editor.ok("POST", f"/api/commentaires/{comment_id}/reactions", {"emoji": "🎉"})
    reacted = await viewers["page_link_editor"].event("reaction.changed")
    assert reacted["data"]["reactions"][0]["count"] == 1
    await editor.ok("POST", f"/api/items/page/{world.page.id}/recommandations")
    recommended = await viewers["owner"].event("recommend.changed")
    assert recommended["data"]["count"] == 1
    reader = person(server, world, "reader")
    await reader.ok("POST", "/api/notifications/lues")
    read = await viewers["reader"].event("notification.read")
    assert read["data"]["unread"] == 0
    for viewer in viewers.values():
        await viewer.close()
    await editor.client.aclose()
    await reader.client.aclose()
    await world.engine.dispose()


async def test_item_topics_of_pages_and_space_homes_follow_access(atelier: Start) -> None:
    server = atelier()
    world = await live_world(server)
    topics = (
        f"item:page:{world.page.id}",
        f"item:page:{world.other_page.id}",
        f"item:space:{world.space_id}",
        f"user:{world.ids['reader']}",
    )
    seen = {}
    for actor in ("reader", "page_link_editor", "space_link_reader", "outsider"):
        viewer = await LiveViewer(server.http_url, world.cookies[actor]).connect()
        seen[actor] = tuple([await viewer.subscribe(topic) for topic in topics])
        await viewer.close()
    yes, no = "subscribed", "refused"
    assert seen == {
        "reader": (yes, yes, yes, yes),
        "page_link_editor": (yes, no, no, no),
        "space_link_reader": (yes, yes, yes, no),
        "outsider": (no, no, no, no),
    }
    await world.engine.dispose()


async def test_two_workers_one_live_stream_and_one_mail_per_window(
    atelier: Start, redis_url: str
) -> None:
    """A comment made on one worker reaches a viewer on the other; two replies made on two
    workers make one mail (whichever worker's sender claims it). The window is long enough
    for the two replies to fall in it on a busy machine."""
    timing = {
        "ATELIER_NOTIFICATION_BATCH_SECONDS": "20",
        "ATELIER_NOTIFICATION_MAIL_SECONDS": "0.5",
    }
    first = atelier(REDIS_URL=redis_url, **timing)
    second = atelier(data_dir=first.data_dir, REDIS_URL=redis_url, **timing)
    world = await live_world(first)
    viewer = await LiveViewer(second.http_url, world.cookies["commenter"]).connect()
    assert await viewer.subscribe(f"item:page:{world.page.id}") == "subscribed"
    commenter = person(first, world, "commenter")
    root = (await commenter.comment("page", world.page.id, "<p>Sur le premier</p>"))["comment"]
    created = await viewer.event("comment.created")
    assert created["data"]["id"] == root["id"]
    editor, owner = person(first, world, "editor"), person(second, world, "owner")
    await editor.comment("page", world.page.id, "<p>Réponse un</p>", thread_id=root["id"])
    await owner.comment("page", world.page.id, "<p>Réponse deux</p>", thread_id=root["id"])
    assert (await viewer.event("notification.created"))["data"]["unread"] >= 1

    async def mails_to_commenter() -> list[str]:
        async with world.engine.connect() as conn:
            address = (
                await conn.execute(
                    select(users.c.email).where(users.c.id == world.ids["commenter"])
                )
            ).scalar_one()
            rows = await conn.execute(select(outbox.c.body).where(outbox.c.to_address == address))
            return [row.body for row in rows]

    (mail,) = await eventually(mails_to_commenter, timeout=90, what="the commenter's mail")
    assert "Réponse un" in mail and "Réponse deux" in mail
    await viewer.close()
    for api in (commenter, editor, owner):
        await api.client.aclose()
    await world.engine.dispose()
