"""`/sw.js`, the offline service worker, asked for over HTTP as a browser registering it does:
from the root, to anyone, as JavaScript, the built file, checked again on every update."""

from __future__ import annotations

import re

import httpx

from tests.support.servers import ROOT, AtelierServer

BUILT = ROOT / "web" / "static" / "build" / "sw.js"


async def test_anyone_gets_the_built_service_worker_as_javascript_never_cached_unchecked(
    server: AtelierServer,
) -> None:
    # No cookie: a browser fetches the script of a worker it registered on its own schedule,
    # and a redirect (to the sign-in page, say) would make the registration fail.
    async with httpx.AsyncClient(base_url=server.http_url) as browser:
        response = await browser.get("/sw.js")
    assert response.status_code == 200
    # Browsers refuse to register a script served with any non-JavaScript type.
    assert response.headers["content-type"].split(";")[0] == "text/javascript"
    assert response.content == BUILT.read_bytes()
    # Registered as a classic script from /: no module syntax, and no other scope to allow.
    assert not re.search(rb"^\s*(import|export)\b", response.content, re.M)
    assert "service-worker-allowed" not in response.headers
    # A new release reaches returning visitors: checked with the server on every update check,
    # never taken from a cache unchecked.
    assert response.headers["cache-control"] == "no-cache"


def test_the_worker_and_the_page_name_the_same_offline_cache() -> None:
    """The page (editor/src/offline.ts) puts what it loaded in a named cache; the worker
    (editor/entries/sw.ts) answers from a cache of that name when the network fails."""
    page = (ROOT / "editor" / "src" / "offline.ts").read_text()
    named = re.search(r'export const OFFLINE_CACHE = "([^"]+)"', page)
    assert named is not None
    assert f'"{named.group(1)}"' in BUILT.read_text()
