"""Mentions in a page's text, read from the stored Yjs document: readers mentioned are
notified once, people who may not read the page are reported, and nothing comes from a list
the client sends."""

from __future__ import annotations

from starlette.applications import Starlette

from realtime.extract import document_blocks
from tests.support.social import SocialApi
from tests.support.spaces_world import World
from tests.support.tiptap_documents import Node, document_state, node, paragraph
from web.social.page_mentions import mention_ids


def _mention(ident: int | str, label: str) -> Node:
    return node("mention", {"id": str(ident), "label": label})


async def test_mentions_in_the_text_notify_readers_once_and_report_the_others(
    app: Starlette, world: World, api: dict[str, SocialApi]
) -> None:
    ids = {name: who.id for name, who in world.people.items()}
    typed = document_state(
        paragraph(
            "Voir ",
            _mention(ids["reader"], "Lecteur"),
            " et ",
            _mention(ids["outsider"], "Dehors"),
        )
    )
    assert mention_ids(document_blocks(typed)) == [str(ids["reader"]), str(ids["outsider"])]
    await app.state.rooms.apply_server_change(world.page.doc_name, lambda current: typed)
    url = f"/api/items/page/{world.page.id}/mentions"
    # The client's list counts for nothing: the server reads the document.
    checked = await api["editor"].ok("POST", url, {"people": [ids["admin"]]})
    assert [p["id"] for p in checked["mentioned"]] == [ids["reader"]]
    assert [p["id"] for p in checked["no_access"]] == [ids["outsider"]]
    assert checked["no_access"][0]["message"] == "Outsider n'a pas accès à cette page."
    again = await api["editor"].ok("POST", url)
    assert again["mentioned"] == []
    listed = await api["reader"].notifications()
    assert listed["unread"] == 1
    assert listed["groups"][0]["notifications"][0]["reason"] == "mention"
    assert (await api["admin"].notifications())["unread"] == 0
    assert (await api["commenter"].call("POST", url)).status_code == 403
    assert (await api["outsider"].call("POST", url)).status_code == 404
    home = f"/api/items/space/{world.space_id}/mentions"
    assert (await api["owner"].call("POST", home)).status_code == 404
