"""Every page carries the security headers a browser enforces."""

from __future__ import annotations

import re

import httpx


async def test_pages_carry_csp_framing_referrer_and_sniffing_headers(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/connexion", "/healthz", "/page-qui-nexiste-pas"):
        headers = (await client.get(path)).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "connect-src 'self' ws://atelier.test wss://atelier.test" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-content-type-options"] == "nosniff"
        assert "camera=(self)" in headers["permissions-policy"]
        assert "microphone=(self)" in headers["permissions-policy"]


async def test_a_forged_host_header_cannot_inject_into_the_policy(
    client: httpx.AsyncClient,
) -> None:
    headers = (await client.get("/healthz", headers={"Host": "x; script-src *"})).headers
    assert "script-src *" not in headers["content-security-policy"]


async def test_pages_have_no_inline_script(client: httpx.AsyncClient) -> None:
    page = (await client.get("/connexion")).text
    assert "<script>" not in page and "onclick=" not in page


async def test_the_stylesheets_a_page_links_are_served_from_the_instance(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/connexion")).text
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert links and all(link.startswith("/static/") for link in links)
    sheets = [await client.get(link) for link in links]
    assert all(sheet.status_code == 200 for sheet in sheets)
    assert any(":focus-visible" in sheet.text for sheet in sheets)  # focus stays visible


async def test_a_bug_shows_a_french_error_page_with_the_headers(app: object) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def broken(request: Request) -> None:
        raise RuntimeError("a bug")

    assert isinstance(app, Starlette)
    app.router.routes.append(Route("/en-panne", broken))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://atelier.test") as client:
        response = await client.get("/en-panne")
    assert response.status_code == 500
    assert "Une erreur inattendue s'est produite" in response.text.replace("&#39;", "'")
    assert "a bug" not in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
