"""HTTP routes of a page's version history: list, name, read, restore.

Readers (and guests whose link lets them read the page) may list and read versions;
editors and up may name a version and restore one. Thin: the work is in `web.pages.versions`.
"""

from __future__ import annotations

from urllib.parse import quote

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from realtime.rooms import DocumentRooms
from realtime.store import DocumentStore
from web.auth.current import CurrentUser, require_user
from web.i18n import gettext_for
from web.pages import versions
from web.spaces.access import PageContext, page_context
from web.templating import render

_NOT_FOUND = "Cette page n’existe pas ou vous n’y avez pas accès."


def _crumbs(context: PageContext, page_url: str) -> list[tuple[str, str]]:
    """The breadcrumb above a page's versions: its space, the pages above it, the page."""
    space = f"/espaces/{quote(context.space.slug)}"
    return [
        (context.space.name, space),
        *((c.title, f"{space}/pages/{c.id}") for c in context.breadcrumbs),
        (context.title, page_url),
    ]


class VersionRoutes:
    """Routes under `/espaces/{slug}/pages/{page_id}/versions`."""

    def __init__(self, engine: AsyncEngine, rooms: DocumentRooms, store: DocumentStore) -> None:
        self.engine = engine
        self.rooms = rooms
        self.store = store

    def routes(self) -> list[BaseRoute]:
        base = "/espaces/{slug}/pages/{page_id:int}/versions"
        return [
            Route(base, self.index, methods=["GET"]),
            Route(base, self.create, methods=["POST"]),
            Route(base + "/{version_id:int}", self.show, methods=["GET"]),
            Route(base + "/{version_id:int}/restaurer", self.restore, methods=["POST"]),
        ]

    async def _context(self, request: Request) -> tuple[CurrentUser, PageContext, str]:
        user = require_user(request)
        context = await page_context(self.engine, user, int(request.path_params["page_id"]))
        # Same answer for "no such page" and "not yours": do not reveal which pages exist.
        if context is None or context.space.slug != request.path_params["slug"]:
            raise HTTPException(404, gettext_for(request).gettext(_NOT_FOUND))
        url = f"/espaces/{quote(context.space.slug)}/pages/{context.page_id}"
        return user, context, url

    def _require_editor(self, request: Request, context: PageContext) -> None:
        if not context.can_edit:
            message = "Votre rôle ne permet pas de modifier cette page."
            raise HTTPException(403, gettext_for(request).gettext(message))

    async def index(self, request: Request) -> Response:
        _user, context, url = await self._context(request)
        history = await versions.list_versions(self.engine, context.page_id)
        return render(
            request,
            "pages/versions.html",
            {
                "title": context.title,
                "page_url": url,
                "crumbs": _crumbs(context, url),
                "versions": history,
                "can_edit": context.can_edit,
                "before_restore": versions.BEFORE_RESTORE,
            },
        )

    async def create(self, request: Request) -> Response:
        user, context, url = await self._context(request)
        self._require_editor(request, context)
        async with request.form(max_files=0, max_fields=4) as form:
            raw = form.get("name")
        name = raw.strip() if isinstance(raw, str) else ""
        if not name:
            message = "Donnez un nom à la version."
            raise HTTPException(422, gettext_for(request).gettext(message))
        state = await versions.current_state(self.rooms, self.store, context.doc_name)
        await versions.save_version(
            self.engine, context.page_id, state, name=name, created_by=user.id
        )
        return RedirectResponse(url + "/versions", status_code=303)

    async def _version(
        self, request: Request, context: PageContext
    ) -> tuple[versions.PageVersion, bytes]:
        try:
            return await versions.get_version(
                self.engine, context.page_id, int(request.path_params["version_id"])
            )
        except versions.VersionNotFound:
            message = "Cette version n’existe pas."
            raise HTTPException(404, gettext_for(request).gettext(message)) from None

    async def show(self, request: Request) -> Response:
        _user, context, url = await self._context(request)
        version, state = await self._version(request, context)
        content = versions.version_html(state)
        t = gettext_for(request).gettext
        if version.name is None:
            label = t("Version automatique")
        elif version.name == versions.BEFORE_RESTORE:
            label = t(version.name)
        else:
            label = version.name
        return render(
            request,
            "pages/version.html",
            {
                "title": context.title,
                "page_url": url,
                "crumbs": _crumbs(context, url),
                "version": version,
                "label": label,
                "can_edit": context.can_edit,
                # Sanitised by nh3 in `version_html`; None when the version cannot be read.
                "content": None if content is None else Markup(content),
            },
        )

    async def restore(self, request: Request) -> Response:
        user, context, url = await self._context(request)
        self._require_editor(request, context)
        version, _state = await self._version(request, context)
        try:
            await versions.restore_version(
                self.engine,
                self.rooms,
                self.store,
                page_id=context.page_id,
                doc_name=context.doc_name,
                version_id=version.id,
                user_id=user.id,
            )
        except versions.VersionUnreadable:
            message = "Cette version est illisible : elle ne peut pas être restaurée."
            raise HTTPException(422, gettext_for(request).gettext(message)) from None
        return RedirectResponse(url, status_code=303)
