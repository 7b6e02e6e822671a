"""Notifications: mentions (people and groups) notify those who may read the item and report
those who may not; replies notify the thread; comments notify followers (authors and
commenters without asking; follow, unfollow, mute); the list grouped by item, the unread
count, marking read."""

from __future__ import annotations

from tests.support.social import SocialApi, mention
from tests.support.spaces_world import World
from web.spaces import services


async def _unread(api: SocialApi) -> int:
    return int((await api.notifications())["unread"])


async def test_a_mention_notifies_readers_and_reports_who_cannot_read_the_page(
    world: World, api: dict[str, SocialApi]
) -> None:
    ids = {name: who.id for name, who in world.people.items()}
    body = f"<p>{mention(ids['reader'], 'Lecteur')} et {mention(ids['outsider'], 'Dehors')}</p>"
    answer = await api["commenter"].comment("page", world.page.id, body)
    assert [p["id"] for p in answer["mentioned"]] == [ids["reader"]]
    assert [p["id"] for p in answer["no_access"]] == [ids["outsider"]]
    assert answer["no_access"][0]["message"] == "Outsider n'a pas accès à cette page."
    listed = await api["reader"].notifications()
    assert listed["unread"] == 1
    group = listed["groups"][0]
    assert group["item"]["title"] == "Page partagée"
    assert group["notifications"][0]["reason"] == "mention"
    assert group["notifications"][0]["url"].endswith(f"#commentaire-{answer['comment']['id']}")
    assert await _unread(api["outsider"]) == 0
    # In English, the warning too.
    api["commenter"].client.cookies.set("atelier_langue", "en")
    english = await api["commenter"].comment("page", world.page.id, body)
    assert english["no_access"][0]["message"] == "Outsider has no access to this page."


async def test_group_mentions_by_an_editor_reach_that_role_or_the_whole_space(
    world: World, api: dict[str, SocialApi]
) -> None:
    await api["editor"].comment("page", world.page.id, f"<p>{mention('commentateurs')}</p>")
    assert await _unread(api["commenter"]) == 1
    assert await _unread(api["reader"]) == 0
    await api["editor"].comment("space", world.space_id, f"<p>{mention('espace')}</p>")
    for member in ("owner", "admin", "commenter", "reader"):
        assert await _unread(api[member]) >= 1, member
    assert await _unread(api["editor"]) == 0  # never one's own


async def test_replies_notify_the_thread_and_comments_notify_followers(
    world: World, api: dict[str, SocialApi]
) -> None:
    page = await world.new_page("Suivie")  # the owner wrote it: they follow it
    root = (await api["commenter"].comment("page", page.id, "<p>Début</p>"))["comment"]
    assert await _unread(api["owner"]) == 1
    await api["editor"].comment("page", page.id, "<p>Suite</p>", thread_id=root["id"])
    reasons = (await api["commenter"].notifications())["groups"][0]["notifications"]
    assert [n["reason"] for n in reasons] == ["reply"]
    # The reader follows the page; the owner unfollows it; the admin mutes the space.
    follow = f"/api/items/page/{page.id}/suivi"
    assert (await api["reader"].ok("POST", follow, {"state": "follow"}))["following"] is True
    assert (await api["owner"].ok("POST", follow, {"state": "unfollow"}))["following"] is False
    await api["admin"].ok("POST", f"/api/items/space/{world.space_id}/suivi", {"state": "follow"})
    before = {name: await _unread(api[name]) for name in ("reader", "owner", "admin")}
    await api["editor"].comment("page", page.id, "<p>Nouveau fil</p>")
    after = {name: await _unread(api[name]) for name in ("reader", "owner", "admin")}
    assert after == {
        "reader": before["reader"] + 1,
        "owner": before["owner"],
        "admin": before["admin"] + 1,
    }
    mute = await api["admin"].ok(
        "POST", f"/api/items/space/{world.space_id}/suivi", {"state": "mute"}
    )
    assert mute["muted"] is True
    await api["editor"].comment("page", page.id, "<p>Encore</p>")
    assert await _unread(api["admin"]) == after["admin"]
    # A muted space still brings mentions.
    await api["editor"].comment("page", page.id, f"<p>{mention(world.people['admin'].id, 'A')}</p>")
    assert await _unread(api["admin"]) == after["admin"] + 1
    muting_a_page = await api["reader"].call("POST", follow, {"state": "mute"})
    assert muting_a_page.status_code == 422


async def test_notifications_are_marked_read_one_or_all_and_only_by_their_owner(
    world: World, api: dict[str, SocialApi]
) -> None:
    for n in range(3):
        await api["editor"].comment(
            "page", world.page.id, f"<p>{mention(world.people['reader'].id)} {n}</p>"
        )
    listed = (await api["reader"].notifications())["groups"][0]["notifications"]
    first = listed[0]["id"]
    assert (await api["owner"].call("POST", f"/api/notifications/{first}/lue")).status_code == 404
    assert (await api["reader"].ok("POST", f"/api/notifications/{first}/lue"))["unread"] == 2
    assert (await api["reader"].ok("POST", "/api/notifications/lues"))["unread"] == 0
    assert await _unread(api["reader"]) == 0


async def test_a_notification_about_an_item_one_can_no_longer_read_is_not_listed(
    world: World, api: dict[str, SocialApi]
) -> None:
    await api["editor"].comment(
        "page", world.page.id, f"<p>{mention(world.people['reader'].id)}</p>"
    )
    await services.remove_member(
        world.app.state.engine, world.owner, world.space_id, world.people["reader"].id
    )
    assert (await api["reader"].notifications())["groups"] == []
