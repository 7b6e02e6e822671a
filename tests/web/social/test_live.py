"""The social layer live, through a real server and real `/live` sockets: a comment, its
resolution, a reaction and a recommendation reach everyone viewing the page; a mention
reaches the bell of the person mentioned with their unread count; who may follow which
item topic."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.live_viewers import LiveViewer
from tests.support.servers import AtelierServer
from tests.support.social import SocialApi, mention
from tests.support.worlds import LiveWorld, live_world
from web.auth.sessions import COOKIE_NAME

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
