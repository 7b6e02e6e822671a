"""A space's activity feed: pages created, renamed, restored, comments, members joined,
newest first and paged; on the space's home; only for those who see the space's content."""

from __future__ import annotations

from starlette.applications import Starlette

from tests.support.people import add_person
from tests.support.social import SocialApi
from tests.support.spaces_world import World
from web.social import activity
from web.spaces import services, tree
from web.spaces.access import utcnow


async def test_the_feed_lists_what_happened_newest_first_page_by_page(
    app: Starlette, world: World, api: dict[str, SocialApi]
) -> None:
    engine = app.state.engine
    page = await world.new_page("Brouillon")
    await tree.rename_page(engine, world.owner, page.id, "Compte rendu")
    await tree.trash_page(engine, world.owner, page.id)
    await tree.restore_page(engine, world.owner, page.id)
    await api["commenter"].comment("page", page.id, "<p>Vu</p>")
    newcomer = await add_person(app, "nouvelle")
    await services.add_member(engine, world.owner, world.space_id, newcomer.id, "reader")
    url = f"/api/espaces/{world.slug}/activite"
    feed = await api["reader"].ok("GET", url)
    kinds = [(e["kind"], e["title"]) for e in feed["entries"][:5]]
    assert kinds == [
        ("member.joined", ""),
        ("comment.created", "Compte rendu"),
        ("page.restored", "Compte rendu"),
        ("page.renamed", "Compte rendu"),
        ("page.created", "Brouillon"),
    ]
    assert feed["entries"][1]["url"] == f"/espaces/{world.slug}/pages/{page.id}"
    assert feed["entries"][0]["actor"]["id"] == newcomer.id
    first = await activity.feed(engine, world.owner, world.space_id, world.slug, utcnow(), limit=2)
    assert first is not None and first["next"] is not None
    rest = await api["reader"].ok("GET", f"{url}?avant={first['next']}")
    assert [e["id"] for e in rest["entries"]] == [e["id"] for e in feed["entries"][2:]]
    for stranger in ("outsider", "instance_admin", "page_link_editor"):
        assert (await api[stranger].call("GET", url)).status_code == 404, stranger
    assert (await api["owner"].call("GET", "/api/espaces/nulle-part/activite")).status_code == 404
    # A page in the trash takes its entries out of the feed, and brings them back.
    await tree.trash_page(engine, world.owner, page.id)
    hidden = await api["reader"].ok("GET", url)
    assert "Compte rendu" not in str(hidden) and hidden["entries"][0]["kind"] == "member.joined"
    await tree.restore_page(engine, world.owner, page.id)
    home = await world.clients["reader"].get(f"/espaces/{world.slug}")
    assert "Activité récente" in home.text and "a commenté" in home.text
    assert "Compte rendu" in home.text


async def test_a_link_guest_sees_the_feed_only_when_the_space_shows_guests_its_members(
    app: Starlette, world: World, api: dict[str, SocialApi]
) -> None:
    """The feed names members: a guest of a link to the space reads it only where the space
    lets guests see who its members are (its setting, off by default)."""
    engine = app.state.engine
    await world.new_page("Compte rendu")
    url = f"/api/espaces/{world.slug}/activite"
    hidden = await api["space_link_reader"].ok("GET", url)
    assert hidden["entries"] == [] and hidden["hidden"] is True
    assert (await api["reader"].ok("GET", url))["entries"] != []
    space = await services.space_by_id(engine, world.space_id)
    assert space is not None
    await services.update_space(
        engine,
        world.owner,
        world.space_id,
        name=space.name,
        description=space.description,
        visibility=space.visibility,
        guests_see_members=True,
    )
    shown = await api["space_link_reader"].ok("GET", url)
    assert "Compte rendu" in str(shown["entries"]) and "hidden" not in shown
