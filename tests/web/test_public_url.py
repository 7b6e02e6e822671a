"""Links in mails and pages start with the public address, and a forged Host is refused."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from tests.support.forms import csrf_token, post_form
from tests.support.mails import link_in, outbox
from tests.support.people import PASSWORD
from tests.support.ports import free_port
from tests.support.servers import ATELIER, ROOT, AtelierServer
from tests.support.spaces_world import build_world
from tests.support.web_app import BASE_URL
from web.auth.current import CurrentUser, CurrentUserMiddleware, current_user

MakeApp = Callable[..., Awaitable[Starlette]]
MakeUser = Callable[..., Awaitable[int]]
UNKNOWN_HOST = "Adresse de serveur inconnue."
# An app served on loopback with no ATELIER_PUBLIC_URL: its address is the one it serves.
LOOPBACK_PORT = 8123
SERVED = f"http://127.0.0.1:{LOOPBACK_PORT}"


@pytest.fixture
async def loopback_app(make_app: MakeApp) -> Starlette:
    return await make_app(public_url="", host="127.0.0.1", port=LOOPBACK_PORT)


@pytest.fixture
async def localhost_clients(
    loopback_app: Starlette,
) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """Browsers that opened the loopback app at http://localhost:PORT (not 127.0.0.1)."""
    clients: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=loopback_app)
        client = httpx.AsyncClient(
            transport=transport, base_url=f"http://localhost:{LOOPBACK_PORT}"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def test_a_reset_asked_with_a_forged_host_is_refused_and_mails_nothing(
    app: Starlette, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("victime@agri.gouv.fr")
    token = await csrf_token(client)
    response = await client.post(
        "/mot-de-passe-oublie",
        data={"email": "victime@agri.gouv.fr", "csrf_token": token},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 400
    assert response.text == UNKNOWN_HOST
    assert await outbox(app) == []
    # The same request by the instance's own name is answered and mailed.
    asked = await post_form(client, "/mot-de-passe-oublie", {"email": "victime@agri.gouv.fr"})
    assert asked.status_code == 200
    (mail,) = await outbox(app)
    assert f"{BASE_URL}/reinitialiser/" in mail.body


async def test_the_reset_link_uses_the_served_address_not_the_name_the_browser_used(
    loopback_app: Starlette, localhost_clients: Callable[[], httpx.AsyncClient]
) -> None:
    from web.accounts.users import create_user

    await create_user(
        loopback_app.state.engine, email="lea@agri.gouv.fr", display_name="Léa", password=PASSWORD
    )
    asked = await post_form(
        localhost_clients(), "/mot-de-passe-oublie", {"email": "lea@agri.gouv.fr"}
    )
    assert asked.status_code == 200
    (mail,) = await outbox(loopback_app)
    assert re.search(rf"^{re.escape(SERVED)}/reinitialiser/\S+$", mail.body, re.M), mail.body
    assert "localhost" not in mail.body


async def test_invitation_mails_and_guest_links_use_the_served_address(
    loopback_app: Starlette, localhost_clients: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(loopback_app, localhost_clients)
    invited = await post_form(
        world.clients["admin"],
        f"/espaces/{world.slug}/membres/inviter",
        {"email": "partenaire@entreprise.fr", "role": "commenter", "display_name": "Paul"},
    )
    assert invited.status_code == 303
    (mail,) = [m for m in await outbox(loopback_app) if m.to_address == "partenaire@entreprise.fr"]
    assert link_in(mail, f"{SERVED}/invitation/")

    created = await post_form(
        world.clients["admin"], f"/espaces/{world.slug}/liens", {"item": "", "role": "reader"}
    )
    assert created.status_code == 201, created.text
    shown = re.search(r'id="nouveau-lien"[^>]*value="([^"]+)"', created.text)
    assert shown is not None and shown.group(1).startswith(f"{SERVED}/invite/"), created.text


async def test_a_meeting_shows_its_link_at_the_served_address(
    loopback_app: Starlette, localhost_clients: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(loopback_app, localhost_clients)
    page = await world.clients["editor"].get(f"/espaces/{world.slug}/reunion")
    assert page.status_code == 200
    shown = re.search(r'class="meeting-link">[^<]*<a href="([^"]+)"', page.text)
    assert shown is not None and shown.group(1) == f"{SERVED}/espaces/{world.slug}/reunion"


async def test_any_other_host_is_refused_and_loopback_names_are_accepted(
    loopback_app: Starlette, localhost_clients: Callable[[], httpx.AsyncClient]
) -> None:
    client = localhost_clients()
    assert (await client.get("/connexion")).status_code == 200
    for host in ("127.0.0.1:8123", "[::1]:8123", "LOCALHOST"):
        assert (await client.get("/connexion", headers={"Host": host})).status_code == 200
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost:80@evil", "", "[::1"):
        refused = await client.get("/connexion", headers={"Host": host})
        assert refused.status_code == 400 and refused.text == UNKNOWN_HOST, host


async def test_the_health_check_answers_whatever_the_host(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    checked = await client.get("/healthz", headers={"Host": "10.0.0.7:8000"})
    assert checked.status_code == 200 and checked.json()["status"] == "ok"


async def test_extra_allowed_hosts_are_accepted_and_links_keep_the_public_address(
    make_app: MakeApp, make_user: MakeUser
) -> None:
    # (http: httpx keeps the cookies of an https site for https requests only)
    app = await make_app(
        public_url="http://atelier.example.gouv.fr", allowed_hosts=("interne",), host="10.0.0.5"
    )
    await make_user("max@agri.gouv.fr")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://interne:8000") as proxy:
        asked = await post_form(proxy, "/mot-de-passe-oublie", {"email": "max@agri.gouv.fr"})
        assert asked.status_code == 200
        forged = await proxy.get("/connexion", headers={"Host": "localhost"})
        assert forged.status_code == 400  # loopback names only when serving on loopback
    (mail,) = await outbox(app)
    assert "http://atelier.example.gouv.fr/reinitialiser/" in mail.body


async def test_a_socket_from_the_public_address_behind_a_proxy_keeps_the_session(
    make_app: MakeApp, make_user: MakeUser
) -> None:
    app = await make_app(public_url="https://atelier.example.gouv.fr", allowed_hosts=("interne",))
    user_id = await make_user("olga@agri.gouv.fr", display_name="Olga")
    cookie = await app.state.sessions.open(user_id)
    seen: list[CurrentUser | None] = []

    async def socket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(current_user(WebSocket(scope, receive, send)))

    middleware = CurrentUserMiddleware(socket_app, store=app.state.sessions)

    async def connect(origin: str) -> CurrentUser | None:
        headers = [
            (b"host", b"interne"),  # the proxy's name for the app
            (b"cookie", f"atelier_session={cookie}".encode()),
            (b"origin", origin.encode()),
        ]
        scope = {"type": "websocket", "path": "/sync/d", "headers": headers, "app": app}

        async def receive() -> Message:
            return {"type": "websocket.connect"}

        async def send(message: Message) -> None:
            pass

        await middleware(scope, receive, send)
        return seen.pop()

    user = await connect("https://atelier.example.gouv.fr")
    assert user is not None and user.id == user_id
    assert await connect("http://interne") is None
    assert await connect("https://evil.example") is None


def test_serving_on_every_interface_without_a_public_url_is_refused(tmp_path: Path) -> None:
    env = AtelierServer(tmp_path / "data").env
    run = subprocess.run(
        [*ATELIER, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "ATELIER_PUBLIC_URL" in run.stderr and "HOST=0.0.0.0" in run.stderr
    assert not (tmp_path / "data" / "atelier.db").exists()  # refused before anything else


async def test_a_real_server_refuses_a_forged_host_over_http_and_websocket(
    atelier: Callable[..., AtelierServer],
) -> None:
    server = atelier()
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        refused = await client.get("/connexion", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and refused.text == UNKNOWN_HOST
        page = await client.get("/connexion", headers={"Host": f"localhost:{server.port}"})
        assert page.status_code == 200

    # The socket's request names evil.example while the connection goes to the server.
    forged = f"ws://evil.example:{server.port}/sync/doc"
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with websockets.connect(forged, host="127.0.0.1", port=server.port, proxy=None):
            pass
    assert refusal.value.response.status_code == 400
    own = f"ws://127.0.0.1:{server.port}/sync/doc"
    async with websockets.connect(own, proxy=None) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401  # no token
