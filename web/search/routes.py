"""Search over HTTP: `/recherche?q=`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.current import require_user
from web.search.service import MAX_QUERY, search_pages
from web.spaces.endpoints import engine_of, handles_errors
from web.templating import render


@handles_errors
async def search(request: Request) -> Response:
    user = require_user(request)
    query = request.query_params.get("q", "")[:MAX_QUERY].strip()
    hits = await search_pages(engine_of(request), user, query) if query else []
    return render(request, "search/results.html", {"query": query, "hits": hits})


def search_routes() -> list[BaseRoute]:
    """The search routes (mount in `create_app`)."""
    return [Route("/recherche", search, methods=["GET"])]
