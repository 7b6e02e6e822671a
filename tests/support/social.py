"""Driving the social layer's JSON API as the browser does: JSON bodies with the page's CSRF
token; comments written with mention spans as the comment editor makes them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.forms import csrf_token


def mention(user_id: int | str, label: str = "") -> str:
    """A mention as the comment editor writes it (a person's id, or a group's name)."""
    return f'<span data-type="mention" data-id="{user_id}" data-label="{label}">@{label}</span>'


class SocialApi:
    """One person's client on the social API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def call(self, method: str, url: str, body: Any = None) -> httpx.Response:
        headers = {}
        if method != "GET":
            if not self.csrf:
                self.csrf = await csrf_token(self.client)
            headers["X-CSRF-Token"] = self.csrf
        if body is None:
            return await self.client.request(method, url, headers=headers)
        return await self.client.request(method, url, json=body, headers=headers)

    async def ok(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        response = await self.call(method, url, body)
        assert response.status_code in (200, 201), f"{response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async def comment(self, kind: str, item_id: int, body: str, **more: Any) -> dict[str, Any]:
        """Post a comment (or, with thread_id=, a reply); the whole answer."""
        return await self.ok(
            "POST", f"/api/items/{kind}/{item_id}/commentaires", {"body": body, **more}
        )

    async def threads(self, kind: str, item_id: int, which: str = "non") -> dict[str, Any]:
        return await self.ok("GET", f"/api/items/{kind}/{item_id}/commentaires?resolus={which}")

    async def notifications(self) -> dict[str, Any]:
        return await self.ok("GET", "/api/notifications")
