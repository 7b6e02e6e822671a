"""The notifications page (the bell's link) and the bell's count: what a person sees, in
French and in English."""

from __future__ import annotations

from tests.support.social import SocialApi, mention
from tests.support.spaces_world import World


async def test_the_notifications_page_lists_them_by_item_with_links_to_the_comment(
    world: World, api: dict[str, SocialApi]
) -> None:
    reader = api["reader"]
    empty = await reader.client.get("/notifications")
    assert empty.status_code == 200
    assert "Aucune notification" in empty.text
    assert 'aria-label="Notifications"' in empty.text  # the bell, in the header
    said = await api["editor"].comment(
        "page", world.page.id, f"<p>{mention(world.people['reader'].id, 'Lecteur')} regarde</p>"
    )
    page = await reader.client.get("/notifications")
    assert "Page partagée" in page.text
    assert "vous a mentionné" in page.text
    assert f'#commentaire-{said["comment"]["id"]}"' in page.text
    assert "Tout marquer comme lu" in page.text
    assert (await reader.ok("GET", "/api/notifications?seulement=nombre")) == {"unread": 1}
    reader.client.cookies.set("atelier_langue", "en")
    english = await reader.client.get("/notifications")
    assert "mentioned you" in english.text
    assert "Mark all as read" in english.text
