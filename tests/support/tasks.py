"""Driving the tasks API as the browser does: JSON bodies with the page's CSRF token."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.forms import csrf_token


class TasksApi:
    """One person's client on the tasks API of one space."""

    def __init__(self, client: httpx.AsyncClient, slug: str) -> None:
        self.client = client
        self.slug = slug
        self.csrf = ""

    @property
    def base(self) -> str:
        return f"/api/espaces/{self.slug}/taches"

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """`method` on `path`: under the space's tasks ("/12/deplacer"), unless it is a path
        of its own ("/api/...", "/taches", "/espaces/...")."""
        own = path.startswith(("/api/", "/taches", "/espaces/"))
        url = path if own else f"{self.base}{path}"
        headers = {}
        if method != "GET":
            if not self.csrf:
                self.csrf = await csrf_token(self.client)
            headers["X-CSRF-Token"] = self.csrf
        if body is None:
            return await self.client.request(method, url, headers=headers)
        return await self.client.request(method, url, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The JSON answer of a call that must succeed."""
        response = await self.call(method, path, body)
        assert response.status_code in (200, 201), f"{response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async def board(self, query: str = "") -> dict[str, Any]:
        return await self.ok("GET", query)

    async def create(self, title: str, **fields: Any) -> dict[str, Any]:
        task: dict[str, Any] = (await self.ok("POST", "", {"title": title, **fields}))["task"]
        return task
