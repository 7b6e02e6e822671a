from __future__ import annotations

from typing import Any

import httpx


async def test_the_home_page_sends_visitors_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/connexion"


async def test_the_home_page_sends_signed_in_agents_to_their_spaces(
    client: httpx.AsyncClient, make_user: Any, signed_in: Any
) -> None:
    await make_user("agent@example.gouv.fr", password="correct horse battery staple")
    await signed_in(client, "agent@example.gouv.fr", "correct horse battery staple")
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/espaces"
