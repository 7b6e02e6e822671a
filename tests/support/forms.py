"""Posting forms as a browser does: read the page's CSRF token, send it with the form.

Any `httpx.AsyncClient` works: one on the app in process (`httpx.ASGITransport`) or one on a
live `atelier serve`. `post_as` is the live-server shortcut for "this person, by their session
cookie, submits this form".
"""

from __future__ import annotations

import re

import httpx

from tests.support.servers import AtelierServer
from web.auth.sessions import COOKIE_NAME

# The token pages embed: `<meta name="csrf-token">` for scripts, a hidden field in forms.
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')
# The sign-in page renders for anyone, signed in or not, when it carries a notice key.
ANY_VISITOR_PAGE = "/connexion?avis=x"


def token_in(page: str, where: str = "the page") -> str:
    """The CSRF token a page embeds (its meta tag, else a form's hidden field)."""
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {where}: {page[:300]}"
    return match.group(1) or match.group(2)


async def csrf_token(client: httpx.AsyncClient, path: str = ANY_VISITOR_PAGE) -> str:
    """The CSRF token of this client, read from a page; send it as the `csrf_token` form
    field or the `X-CSRF-Token` header."""
    response = await client.get(path)
    return token_in(response.text, f"{path} ({response.status_code})")


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """POST a form with this client's CSRF token."""
    return await client.post(path, data={**(data or {}), "csrf_token": await csrf_token(client)})


async def post_as(server: AtelierServer, cookie: str, path: str, data: dict[str, str]) -> int:
    """POST a form to a live server as the person whose session cookie this is ("" for
    nobody); the status. A server error fails the test with the server's log."""
    value = cookie.split("=", 1)[1] if cookie else ""
    jar = {COOKIE_NAME: value} if value else {}
    async with httpx.AsyncClient(base_url=server.http_url, cookies=jar) as client:
        response = await post_form(client, path, data)
        if response.status_code >= 500:  # a server error: show what the server said
            raise AssertionError(f"{path} answered {response.status_code}:\n{server.log()[-4000:]}")
        return response.status_code
