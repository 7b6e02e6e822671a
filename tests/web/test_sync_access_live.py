"""`/sync/{doc}` through a live `atelier serve`, with real Yjs clients carrying session cookies.

Each role opens a page's document: editors and up write, readers and commenters only read,
others are refused (4403; 4401 with no credentials). Revoking a guest link closes the sockets
opened through it at once, and the guest cannot come back.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import AtelierServer, YjsClients
from web.accounts import users as accounts
from web.auth.sessions import COOKIE_NAME, SessionStore
from web.auth.tokens import load_secret_key
from web.database import create_engine, database_url
from web.spaces import guest_links, services, tree
from web.spaces.access import utcnow

Start = Callable[..., AtelierServer]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def ys() -> AsyncIterator[YjsClients]:
    """Real yjs + y-websocket clients; `open(..., cookie=...)` sends a session cookie."""
    clients = await YjsClients().start()
    yield clients
    await clients.close()


@dataclass
class LiveWorld:
    server: AtelierServer
    engine: AsyncEngine
    sessions: SessionStore
    slug: str
    space_id: int
    owner_id: int
    page: tree.PageRef
    other_page: tree.PageRef
    cookies: dict[str, str]
    link_ids: dict[str, int]
    ids: dict[str, int]


async def _guest_cookie(server: AtelierServer, token: str, name: str) -> str:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        form = await client.get(f"/invite/{token}")
        match = _CSRF.search(form.text)
        assert match, form.text
        response = await client.post(
            f"/invite/{token}", data={"display_name": name, "csrf_token": match.group(1)}
        )
        assert response.status_code == 303, response.text
        return f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"


@dataclass(frozen=True)
class Who:
    id: int
    role: str = "agent"
    guest_link_id: int | None = None


async def live_world(server: AtelierServer) -> LiveWorld:
    engine = create_engine(database_url(server.data_dir.resolve(), None))
    secret = load_secret_key("", server.data_dir.resolve())
    sessions = SessionStore(engine, secret, timedelta(days=1))
    ids: dict[str, int] = {}
    for name in ("owner", "admin", "editor", "commenter", "reader", "outsider", "instance_admin"):
        ids[name] = await accounts.create_user(
            engine,
            email=f"{name.replace('_', '.')}.{uuid.uuid4().hex[:6]}@example.gouv.fr",
            display_name=name,
            role="admin" if name == "instance_admin" else "agent",
        )
    owner = Who(ids["owner"])
    space = await services.create_space(engine, owner, name="Espace vivant")
    for role in ("admin", "editor", "commenter", "reader"):
        await services.add_member(engine, owner, space.id, ids[role], role)
    page = await tree.create_page(engine, owner, space.id, "Partagée")
    other = await tree.create_page(engine, owner, space.id, "Interne")
    cookies = {
        name: f"{COOKIE_NAME}={await sessions.open(user_id, 'test')}"
        for name, user_id in ids.items()
    }
    links = {
        "page_link_editor": await guest_links.create_guest_link(
            engine, owner, space.id, role="editor", page_id=page.id
        ),
        "space_link_reader": await guest_links.create_guest_link(
            engine, owner, space.id, role="reader"
        ),
    }
    for name, new in links.items():
        cookies[name] = await _guest_cookie(server, new.token, name)
    return LiveWorld(
        server,
        engine,
        sessions,
        space.slug,
        space.id,
        ids["owner"],
        page,
        other,
        cookies,
        {name: new.link.id for name, new in links.items()},
        ids,
    )


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
    atelier: Start, ys: YjsClients
) -> None:
    server = atelier()
    world = await live_world(server)
    url, doc = server.sync_url, world.page.doc_name
    await ys("open", client="watcher", url=url, doc=doc, cookie=world.cookies["owner"])
    seen: dict[str, object] = {}
    for actor, wanted in EXPECTED.items():
        cookie = world.cookies.get(actor, "")
        if isinstance(wanted, int):
            reply = await ys("open", client=actor, url=url, doc=doc, cookie=cookie, wait="closed")
            seen[actor] = reply["closes"][0]["code"]
            await ys("close", client=actor)
            continue
        await ys("open", client=actor, url=url, doc=doc, cookie=cookie)
        await ys("insert", client=actor, text=f"[{actor}]")
        if wanted == "write":
            await ys("wait_contains", client="watcher", text=f"[{actor}]")
            seen[actor] = "write"
        else:
            denied = (await ys("wait_denied", client=actor))["denied"]
            assert "read-only" in denied[0]
            seen[actor] = "read"
        await ys("close", client=actor)
    assert seen == EXPECTED
    text = (await ys("text", client="watcher"))["text"]
    for reader in ("reader", "commenter", "space_link_reader"):
        assert f"[{reader}]" not in text
    await world.engine.dispose()


async def test_a_page_link_guest_is_refused_on_other_pages(atelier: Start, ys: YjsClients) -> None:
    server = atelier()
    world = await live_world(server)
    reply = await ys(
        "open",
        client="guest",
        url=server.sync_url,
        doc=world.other_page.doc_name,
        cookie=world.cookies["page_link_editor"],
        wait="closed",
    )
    assert reply["closes"][0]["code"] == 4403
    await world.engine.dispose()


async def test_scripts_with_a_token_still_reach_documents(atelier: Start, ys: YjsClients) -> None:
    server = atelier()
    doc = f"script-{uuid.uuid4().hex[:8]}"
    url = f"{server.sync_url}"
    token = server.token("script-")
    # The cookie-less driver passes the token in the URL, as `atelier token` users do.
    await ys("open", client="bot", url=url, doc=f"{doc}?token={token}")
    await ys("insert", client="bot", text="hello")


async def test_revoking_a_guest_link_closes_its_live_socket_at_once(
    atelier: Start, ys: YjsClients
) -> None:
    server = atelier()
    world = await live_world(server)
    url, doc = server.sync_url, world.page.doc_name
    await ys("open", client="owner", url=url, doc=doc, cookie=world.cookies["owner"])
    await ys("open", client="guest", url=url, doc=doc, cookie=world.cookies["page_link_editor"])
    await ys("insert", client="guest", text="written by the guest")
    await ys("wait_contains", client="owner", text="written by the guest")

    link_id = world.link_ids["page_link_editor"]
    owner_cookie = world.cookies["owner"].split("=", 1)[1]
    async with httpx.AsyncClient(
        base_url=server.http_url, cookies={COOKIE_NAME: owner_cookie}
    ) as owner:
        page = await owner.get(f"/espaces/{world.slug}/liens")
        match = _CSRF.search(page.text)
        assert page.status_code == 200 and match
        response = await owner.post(
            f"/espaces/{world.slug}/liens/{link_id}/revoquer",
            data={"csrf_token": match.group(1)},
        )
        assert response.status_code == 303, response.text

    closes = (await ys("wait_closed", client="guest", timeout=5))["closes"]
    assert closes[0] == {"code": 4403, "reason": "guest link revoked"}
    # 4403 is final for y-websocket: the provider stays away. Coming back is refused, since
    # the sessions opened through the link ended with it.
    await asyncio.sleep(1)
    assert not (await ys("events", client="guest"))["connected"]
    again = await ys(
        "open",
        client="again",
        url=url,
        doc=doc,
        cookie=world.cookies["page_link_editor"],
        wait="closed",
    )
    assert again["closes"][0]["code"] == 4401
    # The owner's socket is untouched and still live.
    await ys("insert", client="owner", text=" / owner still here")
    assert (await ys("events", client="owner"))["closes"] == []
    await world.engine.dispose()


async def test_revoking_on_one_worker_closes_the_guest_socket_on_another(
    atelier: Start, ys: YjsClients, redis_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    one = atelier(shared, REDIS_URL=redis_url)
    two = atelier(shared, REDIS_URL=redis_url)
    world = await live_world(one)
    doc = world.page.doc_name
    await ys(
        "open", client="guest", url=two.sync_url, doc=doc, cookie=world.cookies["page_link_editor"]
    )
    link_id = world.link_ids["page_link_editor"]
    owner_cookie = world.cookies["owner"].split("=", 1)[1]
    async with httpx.AsyncClient(
        base_url=one.http_url, cookies={COOKIE_NAME: owner_cookie}
    ) as owner:
        page = await owner.get(f"/espaces/{world.slug}/liens")
        match = _CSRF.search(page.text)
        assert match
        response = await owner.post(
            f"/espaces/{world.slug}/liens/{link_id}/revoquer", data={"csrf_token": match.group(1)}
        )
        assert response.status_code == 303
    closes = (await ys("wait_closed", client="guest", timeout=5))["closes"]
    assert closes[0] == {"code": 4403, "reason": "guest link revoked"}
    await world.engine.dispose()


async def test_a_guest_link_that_expires_during_a_session_closes_its_socket(
    atelier: Start, ys: YjsClients
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
    cookie = await _guest_cookie(server, new.token, "Bientôt expiré")
    doc = world.page.doc_name
    await ys("open", client="guest", url=server.sync_url, doc=doc, cookie=cookie)
    assert (await ys("events", client="guest"))["closes"] == []  # live before it expires
    closes = (await ys("wait_closed", client="guest", timeout=20))["closes"]
    assert closes[0] == {"code": 4403, "reason": "guest link expired"}
    await world.engine.dispose()
