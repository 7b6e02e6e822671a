"""Tasks live, through real servers: every change reaches every viewer of the board (and of
the task's panel) with its new version, across workers over Redis; who may follow which task
topic; a task's description co-edited through the page editor's sync engine."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.live_viewers import LiveViewer
from tests.support.servers import AtelierServer
from tests.support.tasks import TasksApi
from tests.support.worlds import LiveWorld, live_world
from tests.support.yjs import YjsClients
from web.auth.sessions import COOKIE_NAME

Start = Callable[..., AtelierServer]


def person(server: AtelierServer, world: LiveWorld, actor: str) -> TasksApi:
    cookie = world.cookies[actor].split("=", 1)[1]
    client = httpx.AsyncClient(base_url=server.http_url, cookies={COOKIE_NAME: cookie})
    return TasksApi(client, world.slug)


async def test_a_move_reaches_every_viewer_of_the_board_and_of_the_task_with_its_version(
    atelier: Start,
) -> None:
    server = atelier()
    world = await live_world(server)
    editor = person(server, world, "editor")
    task = await editor.create("Carte vivante")
    doing = (await editor.board())["columns"][1]["id"]
    viewers = {}
    for actor in ("reader", "commenter", "space_link_reader", "owner"):
        viewer = await LiveViewer(server.http_url, world.cookies[actor]).connect()
        assert await viewer.subscribe(f"space:{world.space_id}") == "subscribed"
        viewers[actor] = viewer
    panel = await LiveViewer(server.http_url, world.cookies["reader"]).connect()
    assert await panel.subscribe(f"item:task:{task['id']}") == "subscribed"
    moved = await editor.ok("POST", f"/{task['id']}/deplacer", {"column_id": doing, "order": "a3"})
    for viewer in (*viewers.values(), panel):
        event = await viewer.event("task.moved")
        assert event["data"] == {
            "id": task["id"],
            "column_id": doing,
            "order": "a3",
            "version": moved["version"],
            "by": world.ids["editor"],
        }
    await editor.ok("PATCH", f"/{task['id']}", {"version": moved["version"], "title": "Renommée"})
    updated = await viewers["reader"].event("task.updated")
    assert updated["data"]["fields"] == {"title": "Renommée"}
    assert updated["data"]["version"] == moved["version"] + 1
    for viewer in (*viewers.values(), panel):
        await viewer.close()
    await editor.client.aclose()
    await world.engine.dispose()


async def test_task_topics_follow_the_boards_access(atelier: Start) -> None:
    server = atelier()
    world = await live_world(server)
    editor = person(server, world, "editor")
    task = await editor.create("Carte")
    topics = (f"space:{world.space_id}", f"item:task:{task['id']}", "item:task:999999")
    seen = {}
    for actor in (
        "editor",
        "reader",
        "space_link_reader",
        "page_link_editor",
        "outsider",
        "instance_admin",
    ):
        viewer = await LiveViewer(server.http_url, world.cookies[actor]).connect()
        seen[actor] = tuple([await viewer.subscribe(topic) for topic in topics])
        await viewer.close()
    yes, no = "subscribed", "refused"
    assert seen == {
        "editor": (yes, yes, no),
        "reader": (yes, yes, no),
        "space_link_reader": (yes, yes, no),
        "page_link_editor": (no, no, no),
        "outsider": (no, no, no),
        "instance_admin": (no, no, no),
    }
    await editor.client.aclose()
    await world.engine.dispose()


async def test_a_change_made_on_one_worker_reaches_a_viewer_on_another(
    atelier: Start, redis_url: str
) -> None:
    first = atelier(REDIS_URL=redis_url)
    second = atelier(data_dir=first.data_dir, REDIS_URL=redis_url)
    world = await live_world(first)
    viewer = await LiveViewer(second.http_url, world.cookies["reader"]).connect()
    assert await viewer.subscribe(f"space:{world.space_id}") == "subscribed"
    editor = person(first, world, "editor")
    task = await editor.create("Créée sur le premier")
    created = await viewer.event("task.created")
    assert created["data"]["task"]["id"] == task["id"]
    assert created["data"]["task"]["title"] == "Créée sur le premier"
    await viewer.close()
    await editor.client.aclose()
    await world.engine.dispose()


async def test_a_task_description_is_co_edited_by_editors_and_only_read_by_readers(
    atelier: Start, yjs: YjsClients
) -> None:
    server = atelier()
    world = await live_world(server)
    editor = person(server, world, "editor")
    task = await editor.create("Avec une description")
    doc = (await editor.ok("GET", f"/{task['id']}"))["doc_name"]
    url = server.sync_url
    await yjs("open", client="editor", url=url, doc=doc, cookie=world.cookies["editor"])
    await yjs("open", client="owner", url=url, doc=doc, cookie=world.cookies["owner"])
    await yjs("insert", client="editor", text="Contexte du marché")
    await yjs("wait_contains", client="owner", text="Contexte du marché")
    await yjs("open", client="reader", url=url, doc=doc, cookie=world.cookies["reader"])
    await yjs("wait_contains", client="reader", text="Contexte du marché")
    await yjs("insert", client="reader", text="[lecteur]")
    denied = (await yjs("wait_denied", client="reader"))["denied"]
    assert "read-only" in denied[0]
    reply = await yjs(
        "open",
        client="guest",
        url=url,
        doc=doc,
        cookie=world.cookies["page_link_editor"],
        wait="closed",
    )
    assert reply["closes"][0]["code"] == 4403
    await editor.client.aclose()
    await world.engine.dispose()
