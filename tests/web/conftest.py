"""Web app fixtures: the real app on a fresh migrated SQLite database, driven in process.

Stable fixtures for every web test (keep these names and signatures):

- `app` — `create_app(Settings(...))` with its lifespan running, on a new SQLite file.
- `make_app(**settings)` — the same with settings overridden (`make_app(signup_domains=())`;
  `make_app(database_url=postgres_database)` migrates and uses that database instead).
- `client` — an anonymous `httpx.AsyncClient` on `app` (cookies kept, redirects not followed).
- `new_client()` — another independent client (a second browser), e.g. for a second user.
- `make_user(email, role="agent", password=PASSWORD, display_name=None, status="active")`
  → the new user's id.
- `signed_in(client, email, password=PASSWORD)` → signs `client` in (asserts it worked) and
  returns it.

- `matrix_instance` — for the authorisation matrix (module-scoped, its tests on the module's
  event loop): one app per module on SQLite, then on a PostgreSQL database of its own when
  one answers, with the `InstanceState` that snapshots and wipes it between cases;
  `matrix_routes` — every route of the app as the matrix names them.

Helpers live in `tests/support/`: `forms` (`csrf_token`, `post_form`), `people` (`PASSWORD`,
`sign_in`), `mails` (`outbox`, `link_in`), `page_reading` (`page_text`), `web_app`
(`web_settings`, `BASE_URL`, `SECRET`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from tests.support.access_matrix import route_names
from tests.support.people import PASSWORD, sign_in
from tests.support.postgres import temporary_database
from tests.support.web_app import BASE_URL, web_settings
from tests.support.world_snapshot import InstanceState
from web.accounts import users as accounts
from web.app import create_app
from web.database import database_url, migrate


@pytest.fixture
async def make_app(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Starlette]]]:
    """Build apps on one fresh migrated database; lifespans end with the test."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    await asyncio.to_thread(migrate, database_url(data_dir.resolve(), None))
    stack: list[Any] = []

    async def build(**overrides: Any) -> Starlette:
        if overrides.get("database_url"):  # e.g. PostgreSQL: migrate it too
            await asyncio.to_thread(migrate, database_url(data_dir, overrides["database_url"]))
        app = create_app(web_settings(data_dir, **overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        stack.append(lifespan)
        return app

    yield build
    for lifespan in reversed(stack):
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def app(make_app: Callable[..., Awaitable[Starlette]]) -> Starlette:
    return await make_app()


async def _clients_of(app: Starlette) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """A factory of browsers on `app`, each closed at the end."""
    clients: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=False
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def new_client(app: Starlette) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    async for make in _clients_of(app):
        yield make


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str | None:
    """None for the default SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return None


@pytest.fixture
async def db_app(database: str | None, make_app: Callable[..., Awaitable[Starlette]]) -> Starlette:
    """The app on SQLite, then on PostgreSQL when one answers."""
    if database is None:
        return await make_app()
    return await make_app(database_url=database)


@pytest.fixture
async def browsers(db_app: Starlette) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    async for make in _clients_of(db_app):
        yield make


@pytest.fixture
def client(new_client: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
    return new_client()


@pytest.fixture
def make_user(app: Starlette) -> Callable[..., Awaitable[int]]:
    async def make(
        email: str,
        role: str = "agent",
        password: str | None = PASSWORD,
        display_name: str | None = None,
        status: str = "active",
    ) -> int:
        return await accounts.create_user(
            app.state.engine,
            email=email,
            display_name=display_name or email.split("@")[0].replace(".", " ").title(),
            password=password,
            role=role,
            status=status,
        )

    return make


@pytest.fixture
def signed_in() -> Callable[..., Awaitable[httpx.AsyncClient]]:
    async def do(
        client: httpx.AsyncClient, email: str, password: str = PASSWORD
    ) -> httpx.AsyncClient:
        response = await sign_in(client, email, password)
        assert response.status_code == 303, response.text
        return client

    return do


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def matrix_instance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Starlette, InstanceState]]:
    """One app for a whole matrix module, per database; each case wipes it and builds its
    world (building an app per case would cost more than all of a case's requests)."""
    data_dir = tmp_path_factory.mktemp("matrix") / "data"
    data_dir.mkdir()
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = await stack.enter_async_context(temporary_database())
        await asyncio.to_thread(migrate, database_url(data_dir.resolve(), url))
        overrides = {"database_url": url} if url else {}
        app = create_app(web_settings(data_dir, **overrides))
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield app, InstanceState(app)


@pytest.fixture
def matrix_routes(tmp_path: Path) -> set[str]:
    """Every route of the app, as the matrix names them (`METHOD /path`, `WS /path`)."""
    return route_names(create_app(web_settings(tmp_path / "data")))
