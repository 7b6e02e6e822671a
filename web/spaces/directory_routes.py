"""The directory of people over HTTP: `/annuaire?q=` and `/annuaire/{user_id}`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.current import require_user
from web.spaces import directory
from web.spaces.endpoints import KIND_NAMES, engine_of, handles_errors, path_int
from web.templating import render


@handles_errors
async def search(request: Request) -> Response:
    user = require_user(request)
    query = request.query_params.get("q", "")[:200]
    people = await directory.search_people(engine_of(request), user, query)
    return render(request, "directory/search.html", {"query": query, "people": people})


@handles_errors
async def profile(request: Request) -> Response:
    user = require_user(request)
    found = await directory.profile(engine_of(request), user, path_int(request, "user_id"))
    return render(request, "directory/profile.html", {"profile": found, "kind_names": KIND_NAMES})


def directory_routes() -> list[BaseRoute]:
    return [
        Route("/annuaire", search, methods=["GET"]),
        Route("/annuaire/{user_id:int}", profile, methods=["GET"]),
    ]
