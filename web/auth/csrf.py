"""CSRF protection for every state-changing request (POST, PUT, PATCH, DELETE).

Signed double submit, bound to the session: a random `atelier_csrf` cookie (HttpOnly,
SameSite=Lax) and a token `HMAC(instance key, cookie | session id)` that pages embed —
`{{ csrf_input() }}` in forms, `<meta name="csrf-token">` for scripts, which send it as the
`X-CSRF-Token` header. Another site can neither read the token nor mint one for the cookie.

The middleware checks the header, else the `csrf_token` form field. A urlencoded body is
buffered (bounded) and replayed to the route; a multipart body is read only until its
`csrf_token` field, which must therefore come before any file field (`csrf_input()` first in
the form), and then replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from urllib.parse import parse_qs

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth.current import cookie_secure, read_cookie

COOKIE_NAME = "atelier_csrf"
FIELD_NAME = "csrf_token"
HEADER_NAME = b"x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 2 * 2**20  # a urlencoded form bigger than this is refused with 413
MAX_MULTIPART_SCAN = 256 * 2**10  # the csrf field must appear within this many bytes
_STATE_KEY = "csrf_cookie"


def make_token(secret: str, cookie: str, session_id: str) -> str:
    mac = hmac.new(secret.encode(), f"csrf|{cookie}|{session_id}".encode(), hashlib.sha256)
    return mac.hexdigest()


def token_is_valid(secret: str, cookie: str, session_id: str, token: str) -> bool:
    if not cookie or not token or len(token) > 200:
        return False
    return hmac.compare_digest(make_token(secret, cookie, session_id), token)


def _session_id(scope: Scope) -> str:
    user = scope.get("state", {}).get("user")
    return str(getattr(user, "session_id", "") or "")


def csrf_token(connection: HTTPConnection) -> str:
    """The CSRF token for this request's visitor (pages embed it in forms and a meta tag)."""
    scope = connection.scope
    state = scope.setdefault("state", {})
    secret: str = state.get("csrf_secret") or connection.app.state.secret
    return make_token(secret, state.get(_STATE_KEY, ""), _session_id(scope))


def _headers(scope: Scope) -> Iterable[tuple[bytes, bytes]]:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", [])
    return headers


def _header(scope: Scope, name: bytes) -> str:
    for key, value in _headers(scope):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class CSRFMiddleware:
    """Refuses unsafe requests without a valid token with 403 and a clear message."""

    def __init__(self, app: ASGIApp, secret: str, *, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.secret = secret
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["csrf_secret"] = self.secret
        cookie = read_cookie(scope, COOKIE_NAME)
        new_cookie = not (cookie and len(cookie) <= 100)
        if new_cookie:
            cookie = secrets.token_urlsafe(24)
        state[_STATE_KEY] = cookie

        if new_cookie:
            secure = cookie_secure(scope)
            set_cookie = (
                f"{COOKIE_NAME}={cookie}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}"
            ).encode("latin-1")
            inner_send = send

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [*message.get("headers", []), (b"set-cookie", set_cookie)]
                    message = {**message, "headers": headers}
                await inner_send(message)

            send = send_with_cookie

        method = scope["method"].upper()
        path: str = scope["path"]
        if method not in UNSAFE_METHODS or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return

        session_id = _session_id(scope)
        header_token = _header(scope, HEADER_NAME)
        if header_token:
            if token_is_valid(self.secret, cookie, session_id, header_token):
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, send)
            return

        content_type, options = parse_options_header(_header(scope, b"content-type"))
        if content_type == b"application/x-www-form-urlencoded":
            body, more, too_big = await _read_body(receive, MAX_FORM_BYTES)
            if too_big:
                await _plain(send, 413, "Formulaire trop volumineux.", "Form too large.")
                return
            values = parse_qs(body.decode("latin-1"), keep_blank_values=True)
            token = (values.get(FIELD_NAME) or [""])[0]
            replay = _replay([body], receive, more=False)
        elif content_type == b"multipart/form-data" and options.get(b"boundary"):
            token, chunks, more = await _scan_multipart(receive, options[b"boundary"])
            replay = _replay(chunks, receive, more=more)
        else:
            token, replay = "", receive
        if not token_is_valid(self.secret, cookie, session_id, token):
            await self._refuse(scope, send)
            return
        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        fr = (
            "Ce formulaire a expiré ou ne vient pas d'Atelier (jeton CSRF absent ou invalide). "
            "Rechargez la page et recommencez."
        )
        en = (
            "This form has expired or did not come from Atelier (missing or invalid CSRF "
            "token). Reload the page and try again."
        )
        wants_json = scope["path"].startswith("/api/") or "application/json" in _header(
            scope, b"accept"
        )
        await _plain(send, 403, fr, en, as_json=wants_json)


async def _plain(send: Send, status: int, fr: str, en: str, *, as_json: bool = False) -> None:
    if as_json:
        body = json.dumps({"error": fr, "error_en": en}, ensure_ascii=False).encode()
        content_type = b"application/json"
    else:
        page = (
            '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/static/css/atelier.css">'
            f"<title>Erreur {status} — Atelier</title></head><body>"
            f'<main id="contenu" class="page-etroite"><h1>Erreur {status}</h1>'
            f'<p role="alert">{fr}</p><p lang="en">{en}</p>'
            '<p><a href="/">Retour à l\'accueil</a></p></main></body></html>'
        )
        body = page.encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool, bool]:
    """Read a whole body up to `limit`: (body, more_messages_pending, too_big)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), False, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True, True
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), False, False


async def _scan_multipart(receive: Receive, boundary: bytes) -> tuple[str, list[bytes], bool]:
    """Read a multipart body until its csrf field: (token, chunks read, more pending)."""
    found: list[str] = []
    headers: dict[bytes, bytes] = {}
    current = {"field": b"", "value": b"", "name": b""}
    data = bytearray()
    done = {"stop": False}

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        current["field"] += buf[start:end]

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        current["value"] += buf[start:end]

    def on_header_end() -> None:
        headers[current["field"].lower()] = current["value"]
        current["field"] = current["value"] = b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(headers.get(b"content-disposition", b""))
        current["name"] = opts.get(b"name", b"")
        if current["name"] != FIELD_NAME.encode():
            done["stop"] = True  # csrf_input() comes first; a form without it is refused

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        data.extend(buf[start:end])

    def on_part_end() -> None:
        if current["name"] == FIELD_NAME.encode():
            found.append(data.decode("latin-1"))
        done["stop"] = True

    def on_part_begin() -> None:
        headers.clear()
        data.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and not done["stop"] and size <= MAX_MULTIPART_SCAN:
        message = await receive()
        if message["type"] != "http.request":
            more = False
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        try:
            parser.write(chunk)
        except Exception:  # malformed multipart: no token found, refused below
            break
    return (found[0] if found else ""), chunks, more


def _replay(chunks: list[bytes], receive: Receive, *, more: bool) -> Receive:
    """A receive callable that hands back the chunks already read, then the rest."""
    pending = list(chunks) or [b""]

    async def replay() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or more}
        # Body consumed: the original channel now only reports a disconnect.
        return await receive()

    return replay
