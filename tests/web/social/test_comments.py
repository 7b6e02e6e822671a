"""Comments through the JSON API: who reads and who writes, threads and replies, edits with
their mark, deletion by the author, resolve and reopen, anchors and their orphaned mark, the
trash, and the limits."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select
from starlette.applications import Starlette

from tests.support.social import SocialApi, mention
from tests.support.spaces_world import World
from tests.support.tasks import TasksApi
from web.social.tables import comments
from web.spaces import tree
from web.spaces.access import utcnow

ANCHOR = '{"anchor":"gqXHAQ==","head":"gqXHAg=="}'


async def test_commenters_write_readers_read_and_outsiders_find_nothing(
    world: World, api: dict[str, SocialApi]
) -> None:
    page = world.page.id
    made = await api["commenter"].comment(
        "page", page, "<p>Une <strong>remarque</strong></p>", anchor=ANCHOR, quote="un  passage"
    )
    comment = made["comment"]
    assert comment["anchor"] == ANCHOR and comment["quote"] == "un passage"
    assert comment["author"]["id"] == world.people["commenter"].id
    for reader in ("owner", "editor", "reader", "space_link_reader", "page_link_editor"):
        threads = (await api[reader].threads("page", page))["threads"]
        assert [t["body"] for t in threads] == ["<p>Une <strong>remarque</strong></p>"], reader
    url = f"/api/items/page/{page}/commentaires"
    for refused in ("reader", "space_link_reader"):
        answer = await api[refused].call("POST", url, {"body": "<p>non</p>"})
        assert answer.status_code == 403, refused
    for stranger in ("outsider", "instance_admin"):
        seen = await api[stranger].call("GET", url)
        missing = await api[stranger].call("GET", "/api/items/page/999999/commentaires")
        assert seen.status_code == missing.status_code == 404
        assert seen.json() == missing.json()
    assert (await api["owner"].call("GET", "/api/items/tache/1/commentaires")).status_code == 404
    # A guest of a one-page link comments on its page, and has nothing in the rest of the space.
    assert (await api["page_link_editor"].comment("page", page, "<p>invité</p>"))["comment"]
    home = await api["page_link_editor"].call(
        "GET", f"/api/items/space/{world.space_id}/commentaires"
    )
    assert home.status_code == 404
    assert (await api["space_link_reader"].threads("space", world.space_id))["can_comment"] is False


async def test_a_thread_gets_replies_edits_deletion_and_is_resolved_then_reopened(
    world: World, api: dict[str, SocialApi]
) -> None:
    page = world.page.id
    root = (await api["commenter"].comment("page", page, "<p>Question ?</p>"))["comment"]
    reply = (await api["editor"].comment("page", page, "<p>Réponse</p>", thread_id=root["id"]))[
        "comment"
    ]
    assert reply["thread_id"] == root["id"]
    edited = await api["editor"].ok(
        "PATCH", f"/api/commentaires/{reply['id']}", {"body": "<p>Mieux</p>"}
    )
    assert edited["comment"]["edited"] is True and edited["comment"]["body"] == "<p>Mieux</p>"
    others = await api["owner"].call(
        "PATCH", f"/api/commentaires/{reply['id']}", {"body": "<p>x</p>"}
    )
    assert others.status_code == 403
    gone = await api["owner"].call("DELETE", f"/api/commentaires/{reply['id']}")
    assert gone.status_code == 403
    # Resolve: the thread's author or an editor; a reader may not, another commenter neither.
    url = f"/api/commentaires/{root['id']}"
    assert (await api["reader"].call("POST", url + "/resoudre")).status_code == 403
    assert (await api["page_link_editor"].call("POST", url + "/resoudre")).status_code == 200
    assert (await api["commenter"].call("POST", url + "/rouvrir")).status_code == 200
    await api["editor"].ok("POST", url + "/resoudre")
    assert (await api["reader"].threads("page", page))["threads"] == []
    resolved = (await api["reader"].threads("page", page, "oui"))["threads"]
    assert [t["id"] for t in resolved] == [root["id"]]
    assert resolved[0]["resolved_by"]["id"] == world.people["editor"].id
    assert [r["body"] for r in resolved[0]["replies"]] == ["<p>Mieux</p>"]
    # The author deletes the reply: it stays in the thread as deleted, its text gone.
    await api["editor"].ok("DELETE", f"/api/commentaires/{reply['id']}")
    kept = (await api["reader"].threads("page", page, "tous"))["threads"][0]["replies"]
    assert kept[0]["deleted"] is True and kept[0]["body"] == ""


async def test_an_anchor_is_marked_orphaned_never_deleted(
    world: World, api: dict[str, SocialApi]
) -> None:
    page = world.page.id
    root = (await api["commenter"].comment("page", page, "<p>ici</p>", anchor=ANCHOR))["comment"]
    await api["editor"].ok("PATCH", f"/api/commentaires/{root['id']}", {"orphaned": True})
    thread = (await api["reader"].threads("page", page))["threads"][0]
    assert thread["orphaned"] is True and thread["anchor"] == ANCHOR and thread["edited"] is False
    space_home = await api["owner"].call(
        "POST",
        f"/api/items/space/{world.space_id}/commentaires",
        {"body": "<p>x</p>", "anchor": ANCHOR},
    )
    assert space_home.status_code == 422


async def test_a_page_in_the_trash_keeps_its_comments_and_brings_them_back(
    world: World, api: dict[str, SocialApi]
) -> None:
    page = await world.new_page("Éphémère")
    await api["commenter"].comment("page", page.id, "<p>à garder</p>")
    engine = world.app.state.engine
    await tree.trash_page(engine, world.owner, page.id)
    url = f"/api/items/page/{page.id}/commentaires"
    assert (await api["commenter"].call("GET", url)).status_code == 404
    await tree.restore_page(engine, world.owner, page.id)
    threads = (await api["commenter"].threads("page", page.id))["threads"]
    assert [t["body"] for t in threads] == ["<p>à garder</p>"]
    # Purged from the trash for good, its comments go with it.
    await tree.trash_page(engine, world.owner, page.id)
    assert await tree.purge_trash(engine, now=utcnow() + timedelta(days=31)) == 1
    async with engine.connect() as conn:
        left = (
            await conn.execute(select(comments.c.id).where(comments.c.item_id == page.id))
        ).all()
    assert left == []


async def test_limits_size_mentions_rate_and_group_mentions(
    app: Starlette, world: World, api: dict[str, SocialApi]
) -> None:
    store = app.state.social
    store.limits = dataclasses.replace(store.limits, max_mentions=2, max_comment_chars=500)
    url = f"/api/items/page/{world.page.id}/commentaires"
    too_long = await api["editor"].call("POST", url, {"body": "<p>" + "x" * 600 + "</p>"})
    assert too_long.status_code == 422
    people = [world.people[r].id for r in ("owner", "admin", "reader")]
    crowded = "".join(mention(p, "x") for p in people)
    answer = await api["editor"].call("POST", url, {"body": crowded})
    assert answer.status_code == 422 and "2 au plus" in answer.json()["error"]
    group = await api["commenter"].call("POST", url, {"body": f"<p>{mention('espace')}</p>"})
    assert group.status_code == 403 and "groupe" in group.json()["error"]
    store.limits = dataclasses.replace(store.limits, comments_per_minute=2)
    statuses = [
        (await api["admin"].call("POST", url, {"body": f"<p>{n}</p>"})).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


async def test_tasks_take_comments_and_their_board_counts_them(
    world: World, api: dict[str, SocialApi]
) -> None:
    tasks = TasksApi(world.clients["editor"], world.slug)
    task = await tasks.create("Relire le rapport")
    await api["commenter"].comment("task", task["id"], "<p>Je m'en charge</p>")
    threads = (await api["space_link_reader"].threads("task", task["id"]))["threads"]
    assert [t["body"] for t in threads] == ["<p>Je m'en charge</p>"]
    assert (
        await api["page_link_editor"].call("GET", f"/api/items/task/{task['id']}/commentaires")
    ).status_code == 404
    async with world.app.state.engine.connect() as conn:
        counts = await world.app.state.task_hooks.comment_counts(conn, [task["id"]])
    assert counts == {task["id"]: 1}
