"""`/sync/{doc}` through a live `atelier serve`, with real Yjs clients carrying session cookies.

Each role opens a page's document: editors and up write, readers and commenters only read,
others are refused (4403; 4401 with no credentials). Revoking a guest link closes the sockets
opened through it at once, and the guest cannot come back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx

from tests.support.forms import token_in
from tests.support.people import Who
from tests.support.servers import AtelierServer
from tests.support.worlds import guest_cookie, live_world
from tests.support.yjs import YjsClients
from web.auth.sessions import COOKIE_NAME
from web.spaces import guest_links
from web.spaces.access import utcnow

Start = Callable[..., AtelierServer]

# actor → what it may do with the shared page ("write", "read", or the close code)
EXPECTED = {
    "owner": "write",
    "admin": "write",
    "editor": "write",
    "commenter": "read",
    "reader": "read",
    "outsider": 4403,
    "instance_admin": 4403,
    "page_link_editor": "write",
    "space_link_reader": "read",
    "anonymous": 4401,
}


async def test_every_role_gets_the_socket_access_its_role_says(
    atelier: Start, yjs: YjsClients
) -> None:
    server = atelier()
    world = await live_world(server)
    url, doc = server.sync_url, world.page.doc_name
    await yjs("open", client="watcher", url=url, doc=doc, cookie=world.cookies["owner"])
    seen: dict[str, object] = {}
    for actor, wanted in EXPECTED.items():
        cookie = world.cookies.get(actor, "")
        if isinstance(wanted, int):
            reply = await yjs("open", client=actor, url=url, doc=doc, cookie=cookie, wait="closed")
            seen[actor] = reply["closes"][0]["code"]
            await yjs("close", client=actor)
            continue
        await yjs("open", client=actor, url=url, doc=doc, cookie=cookie)
        await yjs("insert", client=actor, text=f"[{actor}]")
        if wanted == "write":
            await yjs("wait_contains", client="watcher", text=f"[{actor}]")
            seen[actor] = "write"
        else:
            denied = (await yjs("wait_denied", client=actor))["denied"]
            assert "read-only" in denied[0]
            seen[actor] = "read"
        await yjs("close", client=actor)
    assert seen == EXPECTED
    text = (await yjs("text", client="watcher"))["text"]
    for reader in ("reader", "commenter", "space_link_reader"):
        assert f"[{reader}]" not in text
    await world.engine.dispose()


async def test_a_page_link_guest_is_refused_on_other_pages(atelier: Start, yjs: YjsClients) -> None:
    server = atelier()
    world = await live_world(server)
    reply = await yjs(
        "open",
        client="guest",
        url=server.sync_url,
        doc=world.other_page.doc_name,
        cookie=world.cookies["page_link_editor"],
        wait="closed",
    )
    assert reply["closes"][0]["code"] == 4403
    await world.engine.dispose()


async def test_scripts_with_a_token_still_reach_documents(atelier: Start, yjs: YjsClients) -> None:
    server = atelier()
    doc = f"script-{uuid.uuid4().hex[:8]}"
    url = f"{server.sync_url}"
    token = server.token("script-")
    # The cookie-less driver passes the token in the URL, as `atelier token` users do.
    await yjs("open", client="bot", url=url, doc=f"{doc}?token={token}")
    await yjs("insert", client="bot", text="hello")


async def test_revoking_a_guest_link_closes_its_live_socket_at_once(
    atelier: Start, yjs: YjsClients
) -> None:
    server = atelier()
    world = await live_world(server)
    url, doc = server.sync_url, world.page.doc_name
    await yjs("open", client="owner", url=url, doc=doc, cookie=world.cookies["owner"])
    await yjs("open", client="guest", url=url, doc=doc, cookie=world.cookies["page_link_editor"])
    await yjs("insert", client="guest", text="written by the guest")
    await yjs("wait_contains", client="owner", text="written by the guest")

    link_id = world.link_ids["page_link_editor"]
    owner_cookie = world.cookies["owner"].split("=", 1)[1]
    async with httpx.AsyncClient(
        base_url=server.http_url, cookies={COOKIE_NAME: owner_cookie}
    ) as owner:
        page = await owner.get(f"/espaces/{world.slug}/liens")
        assert page.status_code == 200
        response = await owner.post(
            f"/espaces/{world.slug}/liens/{link_id}/revoquer",
            data={"csrf_token": token_in(page.text)},
        )
        assert response.status_code == 303, response.text

    closes = (await yjs("wait_closed", client="guest", timeout=5))["closes"]
    assert closes[0] == {"code": 4403, "reason": "guest link revoked"}
    # 4403 is final for y-websocket: the provider gives the connection up and stays away.
    # Coming back is refused, since the sessions opened through the link ended with it.
    events = await yjs("events", client="guest")
    assert not events["connected"] and events["shouldConnect"] is False
    again = await yjs(
        "open",
        client="again",
        url=url,
        doc=doc,
        cookie=world.cookies["page_link_editor"],
        wait="closed",
    )
    assert again["closes"][0]["code"] == 4401
    # The owner's socket is untouched and still live.
    await yjs("insert", client="owner", text=" / owner still here")
    assert (await yjs("events", client="owner"))["closes"] == []
    await world.engine.dispose()


async def test_revoking_on_one_worker_closes_the_guest_socket_on_another(
    atelier: Start, yjs: YjsClients, redis_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    one = atelier(shared, REDIS_URL=redis_url)
    two = atelier(shared, REDIS_URL=redis_url)
    world = await live_world(one)
    doc = world.page.doc_name
    await yjs(
        "open", client="guest", url=two.sync_url, doc=doc, cookie=world.cookies["page_link_editor"]
    )
    link_id = world.link_ids["page_link_editor"]
    owner_cookie = world.cookies["owner"].split("=", 1)[1]
    async with httpx.AsyncClient(
        base_url=one.http_url, cookies={COOKIE_NAME: owner_cookie}
    ) as owner:
        page = await owner.get(f"/espaces/{world.slug}/liens")
        response = await owner.post(
            f"/espaces/{world.slug}/liens/{link_id}/revoquer",
            data={"csrf_token": token_in(page.text)},
        )
        assert response.status_code == 303
    closes = (await yjs("wait_closed", client="guest", timeout=5))["closes"]
    assert closes[0] == {"code": 4403, "reason": "guest link revoked"}
    await world.engine.dispose()


async def test_a_guest_link_that_expires_during_a_session_closes_its_socket(
    atelier: Start, yjs: YjsClients
) -> None:
    server = atelier()
    world = await live_world(server)
    owner = Who(world.owner_id)
    # A one-day link created a day ago, less six seconds: it expires six seconds from now.
    new = await guest_links.create_guest_link(
        world.engine,
        owner,
        world.space_id,
        role="reader",
        page_id=world.page.id,
        days=1,
        now=utcnow() - timedelta(days=1) + timedelta(seconds=6),
    )
    cookie = await guest_cookie(server, new.token, "Bientôt expiré")
    doc = world.page.doc_name
    await yjs("open", client="guest", url=server.sync_url, doc=doc, cookie=cookie)
    assert (await yjs("events", client="guest"))["closes"] == []  # live before it expires
    closes = (await yjs("wait_closed", client="guest", timeout=20))["closes"]
    assert closes[0] == {"code": 4403, "reason": "guest link expired"}
    await world.engine.dispose()
