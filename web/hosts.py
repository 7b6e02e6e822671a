"""Refuse requests that name another host than the instance's (Host header forgery).

A request's `Host` header is client input: a server that trusted it would let anyone make it
speak of another site (links, redirects, cache entries). Every absolute link is built from
`Settings.public_base_url`; this middleware refuses, with 400, any HTTP request or WebSocket
whose `Host` is not one of `Settings.accepted_hosts`. `/healthz` answers whatever the Host, so
load balancers that probe by IP address keep working (it reveals nothing).
"""

from __future__ import annotations

import logging

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from web.auth.current import read_cookie
from web.i18n import COOKIE_NAME, N_, translations

log = logging.getLogger("atelier.web")

UNKNOWN_HOST = N_("Adresse de serveur inconnue.")
ANY_HOST_PATHS = frozenset({"/healthz"})


def host_name(header: str) -> str | None:
    """The host name of a `Host` header, lower case, IPv6 without brackets; None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    else:
        name, _, port = value.partition(":")
    if not name or (port and not port.isdigit()):
        return None
    return name


def _host_header(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"host":
            return str(value.decode("latin-1"))
    return ""


class KnownHostMiddleware:
    """Lets through only requests whose `Host` names this instance (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in ANY_HOST_PATHS:
            await self.app(scope, receive, send)
            return
        if host_name(_host_header(scope)) in self.hosts:
            await self.app(scope, receive, send)
            return
        # The header itself is not logged: it is whatever the client chose to send.
        log.info("refused a request for an unknown host (%s %s)", scope["type"], scope["path"])
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}
        ):
            # A server without the denial-response extension answers a close before accept
            # with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        locale = read_cookie(scope, COOKIE_NAME)
        message = translations(locale).gettext(UNKNOWN_HOST)
        await PlainTextResponse(message, status_code=400)(scope, receive, send)
