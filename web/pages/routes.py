"""The page view: the live editor for a document, its image uploads and its exports.

Two doors to the same editor:
- `/espaces/{slug}/pages/{page_id}` for signed-in members and guests of a space (their role
  on the page comes from `web.spaces.access.page_context`; the socket is authorised by the
  session cookie);
- `/d/{doc}?token=...` opens a document by name for someone holding a signed token
  (scripts, tests, links an administrator hands out); the same token goes on to the sync
  socket, which checks it again.
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from realtime.endpoint import DOCUMENT_NAME
from realtime.extract import ExtractError, document_blocks
from realtime.rooms import DocumentRooms
from realtime.store import DocumentStore
from web.auth.current import CurrentUser, require_user
from web.auth.tokens import DocumentGrant, TokenError, read_document_token
from web.config import Settings
from web.i18n import locale_of
from web.pages.export import to_html, to_markdown
from web.pages.images import MEDIA_TYPES, ImageError, ImageStore
from web.pages.view import Crumb, EditorPage, PageLink, caret_colour
from web.spaces.access import PageContext, page_context, space_role
from web.spaces.tree import flatten, page_tree
from web.templating import STATIC_DIR, render

# Slack over the image limit for the multipart envelope (boundaries, headers, the alt field).
_MULTIPART_SLACK = 16 * 1024


class PageRoutes:
    """Routes of the page view, sharing the secret key, the image store and the documents."""

    def __init__(
        self,
        settings: Settings,
        secret: str,
        engine: AsyncEngine,
        rooms: DocumentRooms,
        store: DocumentStore,
    ) -> None:
        self.secret = secret
        self.engine = engine
        self.rooms = rooms
        self.store = store
        self.images = ImageStore(settings.data_path / "files" / "images", settings.max_image_bytes)

    def routes(self) -> list[BaseRoute]:
        page = "/espaces/{slug}/pages/{page_id:int}"
        return [
            Route(page, self.space_page, methods=["GET"]),
            Route(page + "/images", self.space_page_upload, methods=["POST"]),
            Route(page + "/images/{name}", self.space_page_image, methods=["GET"]),
            Route(page + "/export.md", self.space_page_markdown, methods=["GET"]),
            Route(page + "/export.html", self.space_page_html, methods=["GET"]),
            Route("/d/{doc:path}/images", self.token_upload, methods=["POST"]),
            Route("/d/{doc:path}/export.md", self.token_markdown, methods=["GET"]),
            Route("/d/{doc:path}/export.html", self.token_html, methods=["GET"]),
            Route("/d/{doc:path}", self.token_page, methods=["GET"]),
            Route("/fichiers/images/{name}", self.serve_image, methods=["GET"]),
            Route("/sw.js", service_worker, methods=["GET"]),
        ]

    # --- pages of spaces --------------------------------------------------------------------

    async def _context(self, request: Request) -> tuple[CurrentUser, PageContext]:
        user = require_user(request)
        context = await page_context(self.engine, user, int(request.path_params["page_id"]))
        # Same answer for "no such page" and "not yours": do not reveal which pages exist.
        if context is None or context.space.slug != request.path_params["slug"]:
            raise HTTPException(404, "Cette page n’existe pas ou vous n’y avez pas accès.")
        return user, context

    async def space_page(self, request: Request) -> Response:
        user, context = await self._context(request)
        space = context.space
        base = f"/espaces/{quote(space.slug)}"
        here = f"{base}/pages/{context.page_id}"
        crumbs = (
            Crumb(space.name, base),
            *(Crumb(c.title, f"{base}/pages/{c.id}") for c in context.breadcrumbs),
        )
        links: tuple[PageLink, ...] = ()
        # Titles of the other pages only for those who may read the whole space (a guest
        # invited to one page does not learn what else the space holds).
        if context.can_edit and await space_role(self.engine, user, space.id) is not None:
            nodes = flatten(await page_tree(self.engine, space.id))
            links = tuple(
                PageLink(node.title, f"{base}/pages/{node.id}")
                for node, _depth in nodes
                if node.id != context.page_id
            )
        page = EditorPage(
            title=context.title,
            doc=context.doc_name,
            role=context.role,
            user_name=user.display_name,
            user_colour=caret_colour(f"user:{user.id}"),
            store_key=f"u{user.id}",
            upload_url=f"{here}/images" if context.can_edit else "",
            export_markdown_url=f"{here}/export.md",
            export_html_url=f"{here}/export.html",
            history_url=f"{here}/versions",
            breadcrumbs=crumbs,
            page_links=links,
        )
        return render(request, "pages/editor.html", {"page": page})

    async def space_page_upload(self, request: Request) -> Response:
        _user, context = await self._context(request)
        if not context.can_edit:
            return JSONResponse({"error": "votre rôle ne permet pas de modifier"}, 403)
        # Served under the page, so only those who may read the page can fetch it.
        return await self.receive_image(request, request.url.path + "/")

    async def space_page_image(self, request: Request) -> Response:
        await self._context(request)
        return self.send_image(request, private=True)

    async def space_page_markdown(self, request: Request) -> Response:
        _user, context = await self._context(request)
        return await self.export(request, context.doc_name, context.title, "md")

    async def space_page_html(self, request: Request) -> Response:
        _user, context = await self._context(request)
        return await self.export(request, context.doc_name, context.title, "html")

    # --- documents by token -----------------------------------------------------------------

    def _grant(self, request: Request) -> tuple[str, DocumentGrant]:
        doc = str(request.path_params["doc"])
        if not DOCUMENT_NAME.match(doc):
            raise HTTPException(404, "Ce nom de document n’est pas valide.")
        token = request.query_params.get("token", "")
        if not token:
            raise HTTPException(401, "Ce lien demande un jeton d’accès (?token=…).")
        try:
            grant = read_document_token(self.secret, token, now=time.time())
        except TokenError:
            raise HTTPException(401, "Ce jeton d’accès n’est pas valide ou a expiré.") from None
        if not grant.covers(doc):
            raise HTTPException(403, "Ce jeton ne donne pas accès à ce document.")
        return doc, grant

    async def token_page(self, request: Request) -> Response:
        doc, grant = self._grant(request)
        name = grant.name or request.query_params.get("nom", "").strip()[:80] or "Anonyme"
        query = "?token=" + quote(request.query_params["token"], safe="")
        here = "/d/" + quote(doc)
        page = EditorPage(
            title=doc,
            doc=doc,
            role="editor" if grant.writable else "reader",
            user_name=name,
            user_colour=caret_colour(f"token:{grant.name}:{name}"),
            store_key="t" + hashlib.sha256(request.query_params["token"].encode()).hexdigest()[:16],
            upload_url=f"{here}/images{query}" if grant.writable else "",
            export_markdown_url=f"{here}/export.md{query}",
            export_html_url=f"{here}/export.html{query}",
        )
        response = render(request, "pages/editor.html", {"page": page})
        # The address carries the token: never hand it to other sites in a Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def token_upload(self, request: Request) -> Response:
        _doc, grant = self._grant(request)
        if not grant.writable:
            return JSONResponse({"error": "ce jeton est en lecture seule"}, 403)
        return await self.receive_image(request, "/fichiers/images/")

    async def token_markdown(self, request: Request) -> Response:
        doc, _grant = self._grant(request)
        return await self.export(request, doc, doc, "md")

    async def token_html(self, request: Request) -> Response:
        doc, _grant = self._grant(request)
        return await self.export(request, doc, doc, "html")

    # --- export -----------------------------------------------------------------------------

    async def export(self, request: Request, doc: str, title: str, kind: str) -> Response:
        """The document as Markdown or HTML, from memory if it is open, else from the store."""
        state = self.rooms.document_state(doc)
        if state is None:
            state = await self.store.load(doc)
        try:
            blocks = document_blocks(state)
        except ExtractError as exc:
            raise HTTPException(422, f"Ce document ne peut pas être exporté : {exc}") from None
        filename = quote(_file_stem(title) + "." + kind)
        disposition = f"attachment; filename*=UTF-8''{filename}"
        if kind == "md":
            return PlainTextResponse(
                to_markdown(blocks),
                media_type="text/markdown; charset=utf-8",
                headers={"Content-Disposition": disposition},
            )
        return Response(
            to_html(blocks, title=title, lang=locale_of(request)),
            media_type="text/html; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )

    # --- images -----------------------------------------------------------------------------

    async def receive_image(self, request: Request, url_prefix: str) -> Response:
        """Store the `file` of a multipart upload and answer its URL (the caller authorised)."""
        limit = self.images.max_bytes + _MULTIPART_SLACK
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return JSONResponse({"error": "Content-Length manquant"}, 411)
        if int(length) > limit:
            message = f"image trop lourde (au plus {self.images.max_bytes} octets)"
            return JSONResponse({"error": message}, 413)
        try:
            async with request.form(max_files=1, max_fields=4) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    return JSONResponse({"error": "aucun fichier « file » dans l’envoi"}, 422)
                data = await upload.read(self.images.max_bytes + 1)
        except (ValueError, HTTPException) as exc:  # malformed multipart body
            return JSONResponse({"error": f"envoi illisible : {exc}"}, 400)
        try:
            stored = self.images.save(data)
        except ImageError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        return JSONResponse({"url": url_prefix + stored.name}, 201)

    async def serve_image(self, request: Request) -> Response:
        """Images uploaded through `/d/{doc}` tokens: anyone with the (unguessable) address."""
        return self.send_image(request, private=False)

    def send_image(self, request: Request, *, private: bool) -> Response:
        name = str(request.path_params["name"])
        path = self.images.path_of(name)
        if path is None:
            raise HTTPException(404, "Cette image n’existe pas.")
        response = FileResponse(path, media_type=MEDIA_TYPES[path.suffix[1:]])
        # Named by content, so it never changes; an access-checked one is asked again daily.
        response.headers["Cache-Control"] = (
            "private, max-age=86400" if private else "private, max-age=31536000, immutable"
        )
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


def _file_stem(title: str) -> str:
    stem = "".join(c if c.isalnum() or c in " -_" else "-" for c in title).strip(" -")
    return stem[:80] or "page"


async def service_worker(request: Request) -> Response:
    """The offline service worker, served from the root so that it may control every page."""
    path = STATIC_DIR / "build" / "sw.js"
    if not path.is_file():
        raise HTTPException(404, "the editor bundle is not built (make bundle)")
    response = FileResponse(path, media_type="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response
