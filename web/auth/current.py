"""Who is asking: the `CurrentUser` of a request or WebSocket, from the session cookie.

`CurrentUserMiddleware` (pure ASGI) sets `scope["state"]["user"]` — `request.state.user` in
routes, `websocket.state.user` in socket handlers — to a `CurrentUser` or None. Routes call
`require_user(request)` / `require_admin(request)`; the app turns the refusal into a redirect
to `/connexion?next=...` for pages and a 401 JSON body under `/api/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth.sessions import COOKIE_NAME, SessionRow, SessionStore


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person behind a request."""

    id: int
    email: str
    display_name: str
    role: str  # 'admin' | 'agent' | 'guest'
    locale: str
    session_id: str
    guest_link_id: int | None = None
    time_zone: str | None = None  # None: Europe/Paris (web/local_time.py)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"


class SignInRequired(HTTPException):
    """Raised by `require_user` when nobody is signed in (401; pages redirect to sign-in)."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__(401, "Connectez-vous pour continuer.")
        self.next_path = next_path


class Forbidden(HTTPException):
    """The signed-in person may not do this (403)."""

    def __init__(self, detail: str = "Vous n'avez pas accès à cette page.") -> None:
        super().__init__(403, detail)


def _to_user(row: SessionRow) -> CurrentUser:
    return CurrentUser(
        id=row.user_id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        locale=row.locale,
        session_id=row.session_id,
        guest_link_id=row.guest_link_id,
        time_zone=row.time_zone,
    )


async def session_user(
    store: SessionStore, cookie_value: str, now: datetime | None = None
) -> CurrentUser | None:
    """The user a session cookie value belongs to, or None (forged, expired, revoked, inactive)."""
    row = await store.lookup(cookie_value, now)
    return None if row is None else _to_user(row)


async def user_of_session(store: SessionStore, session_id: str) -> CurrentUser | None:
    """The user of a session as they are now (role, status), or None once it has ended."""
    row = await store.live(session_id)
    return None if row is None else _to_user(row)


async def open_session(
    store: SessionStore, user_id: int, user_agent: str = "", *, guest_link_id: int | None = None
) -> str:
    """Open a session for a user (local, OIDC or guest account); return the cookie value."""
    return await store.open(user_id, user_agent, guest_link_id=guest_link_id)


def current_user(connection: HTTPConnection) -> CurrentUser | None:
    """The signed-in user of a request or WebSocket, or None."""
    user = connection.scope.get("state", {}).get("user")
    return user if isinstance(user, CurrentUser) else None


def require_user(request: HTTPConnection) -> CurrentUser:
    """The signed-in user; otherwise raise `SignInRequired`."""
    user = current_user(request)
    if user is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise SignInRequired(path)
    return user


def require_admin(request: HTTPConnection) -> CurrentUser:
    """The signed-in instance administrator; otherwise raise `SignInRequired` or `Forbidden`."""
    user = require_user(request)
    if not user.is_admin:
        raise Forbidden("Cette page est réservée aux administrateurs de l'instance.")
    return user


def sign_in_url(next_path: str) -> str:
    return "/connexion?next=" + quote(safe_next(next_path), safe="/")


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after signing in; anything else (other hosts, `//x`) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def cookie_secure(scope: Scope) -> str:
    """'; Secure' for cookies when people reach the instance over HTTPS, else ''.

    HTTPS is the request's scheme, or ATELIER_PUBLIC_URL's when a proxy terminates TLS.
    """
    if scope.get("scheme") in ("https", "wss"):
        return "; Secure"
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    public_url = str(getattr(settings, "public_url", "") or "")
    return "; Secure" if public_url.startswith("https://") else ""


def session_cookie_header(scope: Scope, value: str, max_age: int) -> bytes:
    """A Set-Cookie header value for the session cookie (HttpOnly, SameSite=Lax)."""
    cookie = f"{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return (cookie + cookie_secure(scope)).encode("latin-1")


async def start_session(
    request: Request, response: Response, user_id: int, *, guest_link_id: int | None = None
) -> str:
    """Sign `user_id` in: open a session and set its cookie on `response`; return its id."""
    store: SessionStore = request.app.state.sessions
    value = await store.open(
        user_id, request.headers.get("user-agent", ""), guest_link_id=guest_link_id
    )
    max_age = int(store.lifetime.total_seconds())
    response.raw_headers.append(
        (b"set-cookie", session_cookie_header(request.scope, value, max_age))
    )
    session_id = store.session_id(value)
    assert session_id is not None
    return session_id


def clear_session_cookie(request: Request, response: Response) -> None:
    response.raw_headers.append((b"set-cookie", session_cookie_header(request.scope, "", 0)))


def read_cookie(scope: Scope, name: str) -> str:
    """One cookie's value from the raw headers ('' when absent)."""
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header means no cookie, not a 500
                continue
            if name in jar:
                return jar[name].value
    return ""


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _same_origin_socket(scope: Scope) -> bool:
    """A browser WebSocket from another site must not ride on the session cookie.

    The page must come from the public address (`Settings.public_base_url`). Serving on
    loopback, a page opened at another loopback name (localhost for 127.0.0.1) is the same
    site when it names the very host and port the socket was opened to.
    """
    origin = _header(scope, b"origin")
    if not origin:
        return True  # not a browser (scripts, node clients)
    try:
        parts = urlsplit(origin.lower())
    except ValueError:  # a malformed Origin header
        return False
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    if settings is None:  # an app without settings: the socket's own host is all we know
        return parts.netloc == _header(scope, b"host").lower()
    if f"{parts.scheme}://{parts.netloc}" == settings.public_base_url.lower():
        return True
    host = _header(scope, b"host").lower()
    try:
        loopback_name = urlsplit(f"//{host}").hostname in ("localhost", "127.0.0.1", "::1")
    except ValueError:  # a malformed Host header
        return False
    return bool(settings.serves_loopback) and loopback_name and parts.netloc == host


_ANONYMOUS_PATHS = ("/static/", "/healthz")


class CurrentUserMiddleware:
    """Sets `scope["state"]["user"]` from the session cookie; re-sends it when extended."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if scope["path"].startswith(_ANONYMOUS_PATHS):
            # Stylesheets, scripts and health checks never depend on who asks: no lookup.
            state["user"] = None
            await self.app(scope, receive, send)
            return
        cookie = read_cookie(scope, COOKIE_NAME)
        row: SessionRow | None = None
        if cookie and (scope["type"] == "http" or _same_origin_socket(scope)):
            row = await self.store.lookup(cookie)
        state["user"] = None if row is None else _to_user(row)

        extra: bytes | None = None
        if scope["type"] == "http" and cookie:
            if row is None:
                extra = session_cookie_header(scope, "", 0)  # a dead cookie is dropped
            elif row.refreshed:
                extra = session_cookie_header(
                    scope, cookie, int(self.store.lifetime.total_seconds())
                )
        if extra is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # A route that set or cleared the session itself has the last word.
                if not any(
                    k.lower() == b"set-cookie" and v.startswith(COOKIE_NAME.encode() + b"=")
                    for k, v in headers
                ):
                    headers.append((b"set-cookie", extra))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
