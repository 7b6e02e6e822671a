"""Tasks fixtures: a space with a person in every role (tests.support.spaces_world), and the
editor's client on its tasks API."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.spaces_world import World, build_world
from tests.support.tasks import TasksApi


@pytest.fixture
async def world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
    return await build_world(app, new_client)


@pytest.fixture
def editor(world: World) -> TasksApi:
    return TasksApi(world.clients["editor"], world.slug)


@pytest.fixture
def reader(world: World) -> TasksApi:
    return TasksApi(world.clients["reader"], world.slug)
