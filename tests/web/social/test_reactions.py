"""Reactions on comments, recommend on pages and spaces, votes on a kind that asks for them,
following: one per person, idempotent, withdrawn by toggling again."""

from __future__ import annotations

from starlette.applications import Starlette

from tests.support.social import SocialApi
from tests.support.spaces_world import World
from web.social.errors import SocialForbidden, SocialNotFound
from web.social.items import ItemKind, resolve_page
from web.social.reactions import vote
from web.spaces.access import utcnow


async def test_reactions_toggle_and_say_who_reacted(
    world: World, api: dict[str, SocialApi]
) -> None:
    made = (await api["commenter"].comment("page", world.page.id, "<p>Bravo</p>"))["comment"]
    url = f"/api/commentaires/{made['id']}/reactions"
    first = await api["editor"].ok("POST", url, {"emoji": "👍"})
    assert first["on"] is True and first["reactions"][0]["count"] == 1
    again = await api["editor"].ok("POST", url, {"emoji": "👍", "on": True})  # idempotent
    assert again["reactions"][0]["count"] == 1
    await api["owner"].ok("POST", url, {"emoji": "👍"})
    listed = (await api["reader"].threads("page", world.page.id))["threads"][0]["reactions"]
    assert listed == [
        {
            "emoji": "👍",
            "count": 2,
            "people": [world.people["editor"].id, world.people["owner"].id],
            "mine": False,
        }
    ]
    withdrawn = await api["editor"].ok("POST", url, {"emoji": "👍"})
    assert withdrawn["on"] is False and withdrawn["reactions"][0]["count"] == 1
    assert (await api["editor"].call("POST", url, {"emoji": "🦄"})).status_code == 422
    assert (await api["reader"].call("POST", url, {"emoji": "👍"})).status_code == 403
    assert (await api["outsider"].call("POST", url, {"emoji": "👍"})).status_code == 404


async def test_recommend_a_page_and_a_space_with_the_count_and_who(
    world: World, api: dict[str, SocialApi]
) -> None:
    page = f"/api/items/page/{world.page.id}/recommandations"
    assert (await api["editor"].ok("POST", page))["count"] == 1
    assert (await api["commenter"].ok("POST", page, {"on": True}))["count"] == 2
    assert (await api["commenter"].ok("POST", page, {"on": True}))["count"] == 2
    seen = await api["reader"].ok("GET", page)
    assert seen["count"] == 2 and seen["mine"] is False
    assert [p["id"] for p in seen["people"]] == [
        world.people["editor"].id,
        world.people["commenter"].id,
    ]
    assert (await api["editor"].ok("POST", page))["count"] == 1  # withdrawn
    assert (await api["reader"].call("POST", page)).status_code == 403
    space = f"/api/items/space/{world.space_id}/recommandations"
    assert (await api["admin"].ok("POST", space))["mine"] is True
    assert (await api["outsider"].call("GET", space)).status_code == 404


async def test_votes_go_only_to_a_kind_that_asks_for_them(app: Starlette, world: World) -> None:
    store = app.state.social
    store.kinds.register(ItemKind("question", resolve_page, votes=True))
    editor, reader = world.people["editor"], world.people["reader"]
    up = await vote(store, editor, "question", world.page.id, 1, utcnow())
    assert up.body == {"score": 1, "up": 1, "down": 0, "mine": 1}
    again = await vote(store, editor, "question", world.page.id, 1, utcnow())
    assert again.body["score"] == 1 and again.events == []
    down = await vote(store, world.people["commenter"], "question", world.page.id, -1, utcnow())
    assert down.body == {"score": 0, "up": 1, "down": 1, "mine": -1}
    for who, kind, error in (
        (reader, "question", SocialForbidden),
        (editor, "page", SocialNotFound),
    ):
        try:
            await vote(store, who, kind, world.page.id, 1, utcnow())
        except error:
            continue
        raise AssertionError(f"{kind} vote by {who.id} was not refused")
