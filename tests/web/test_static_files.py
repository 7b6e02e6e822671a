"""The editor bundle is public; its source maps (the TypeScript sources) only on request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from starlette.applications import Starlette

from tests.support.web_app import BASE_URL

MAP = "/static/build/page.js.map"


async def test_source_maps_are_not_served_unless_a_setting_says_so(
    client: httpx.AsyncClient,
) -> None:
    bundle = await client.get("/static/build/page.js")
    assert bundle.status_code == 200, "the editor bundle is missing: run `make bundle`"
    assert (await client.get(MAP)).status_code == 404
    assert (await client.head(MAP)).status_code == 404
    assert (await client.get("/static/build/../build/page.js.map")).status_code == 404


async def test_source_maps_are_served_when_the_setting_is_on(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(serve_source_maps=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        served = await client.get(MAP)
    assert served.status_code == 200 and '"sources"' in served.text
