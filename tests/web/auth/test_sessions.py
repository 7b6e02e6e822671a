"""Sessions: sliding expiry, revocation, and the user seen by WebSocket handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from tests.support.people import PASSWORD, sign_in
from tests.support.web_app import BASE_URL
from web.auth.current import CurrentUser, CurrentUserMiddleware, current_user, session_user
from web.auth.sessions import SessionStore

MakeUser = Callable[..., Awaitable[int]]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_session_in_use_keeps_sliding_and_an_idle_one_expires(
    app: Starlette, make_user: MakeUser
) -> None:
    user_id = await make_user("luc@agri.gouv.fr")
    store = SessionStore(app.state.engine, app.state.secret, timedelta(days=14))
    cookie = await store.open(user_id, "test", now=T0)
    # Used every ten days: still valid after a month.
    for day in (10, 20, 30):
        user = await session_user(store, cookie, T0 + timedelta(days=day))
        assert user is not None and user.id == user_id
    assert await session_user(store, cookie, T0 + timedelta(days=30 + 13)) is not None
    # Left alone for 15 days: gone.
    assert await session_user(store, cookie, T0 + timedelta(days=43 + 15)) is None


async def test_a_session_cookie_signed_with_another_key_is_refused(
    app: Starlette, make_user: MakeUser
) -> None:
    user_id = await make_user("mia@agri.gouv.fr")
    other = SessionStore(app.state.engine, "another-secret-key-" + "y" * 32, timedelta(days=1))
    cookie = await other.open(user_id)
    assert await session_user(app.state.sessions, cookie) is None
    assert await session_user(other, cookie) is not None


async def test_the_refreshed_cookie_is_sent_back_to_the_browser(
    app: Starlette, make_user: MakeUser
) -> None:
    user_id = await make_user("noe@agri.gouv.fr")
    store: SessionStore = app.state.sessions
    cookie = await store.open(user_id, now=datetime.now(UTC) - timedelta(hours=1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        client.cookies.set("atelier_session", cookie)
        response = await client.get("/compte")
        assert response.status_code == 200
        assert f"atelier_session={cookie}" in response.headers["set-cookie"]
        assert "Max-Age=1209600" in response.headers["set-cookie"]


async def test_websocket_handlers_see_the_signed_in_user_from_the_same_site_only(
    app: Starlette, make_user: MakeUser
) -> None:
    user_id = await make_user("olga@agri.gouv.fr", display_name="Olga")
    cookie = await app.state.sessions.open(user_id)
    seen: list[CurrentUser | None] = []

    async def socket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(current_user(WebSocket(scope, receive, send)))

    middleware = CurrentUserMiddleware(socket_app, store=app.state.sessions)

    async def connect(origin: str | None) -> CurrentUser | None:
        headers = [(b"host", b"atelier.test"), (b"cookie", f"atelier_session={cookie}".encode())]
        if origin:
            headers.append((b"origin", origin.encode()))
        scope = {"type": "websocket", "path": "/sync/doc", "headers": headers, "scheme": "ws"}

        async def receive() -> Message:
            return {"type": "websocket.connect"}

        async def send(message: Message) -> None:
            pass

        await middleware(scope, receive, send)
        return seen.pop()

    assert (await connect(None)) is not None
    user = await connect("http://atelier.test")
    assert user is not None and user.display_name == "Olga" and user.id == user_id
    # Another site opening a socket in the person's browser gets no identity.
    assert await connect("https://evil.example") is None


async def test_cookies_are_secure_when_the_public_address_is_https(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    from web.accounts.users import create_user

    # TLS ends at a proxy: the app itself sees plain HTTP.
    app = await make_app(public_url="https://atelier.example.gouv.fr", allowed_hosts=("internal",))
    await create_user(
        app.state.engine, email="tls@agri.gouv.fr", display_name="Tls", password=PASSWORD
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://internal"
    ) as client:
        page = await client.get("/connexion")
        assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie
        # httpx keeps Secure cookies for https only; hand it over as a browser on TLS would.
        client.cookies.set("atelier_csrf", page.cookies["atelier_csrf"])
        response = await sign_in(client, "tls@agri.gouv.fr")
        session = [c for c in response.headers.get_list("set-cookie") if "atelier_session" in c]
        assert session and "Secure" in session[0]
