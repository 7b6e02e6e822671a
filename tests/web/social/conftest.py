"""Social fixtures: the app on SQLite then PostgreSQL (when one answers), a space with a
person in every role (tests.support.spaces_world), and each person's client on the social
API."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.social import SocialApi
from tests.support.spaces_world import World, build_world


@pytest.fixture
async def world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
    return await build_world(app, new_client)


@pytest.fixture
def api(world: World) -> dict[str, SocialApi]:
    return {name: SocialApi(client) for name, client in world.clients.items()}


@pytest.fixture
async def app(db_app: Starlette) -> Starlette:
    """The social tests' app: on SQLite, then on PostgreSQL when one answers."""
    return db_app
