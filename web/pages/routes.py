"""The page view: the live editor for a document, its images and its exports.

Two doors to the same editor:
- `/espaces/{slug}/pages/{page_id}` for signed-in members and guests of a space (their role
  on the page comes from `web.spaces.access.page_context`; the socket is authorised by the
  session cookie);
- `/d/{doc}?token=...` opens a document by name for someone holding a signed token
  (scripts, tests, links an administrator hands out); the same token goes on to the sync
  socket, which checks it again.

Images are served only through a document that holds them (`web.pages.image_access`), each
door checking its own access: `…/pages/{id}/images/{name}` for those who may read the page,
`/d/{doc}/images/{name}?token=…` for token holders. The old shared address
`/fichiers/images/{name}` (documents written before images belonged to pages) answers only a
signed-in person who may read some page holding the image.
"""

from __future__ import annotations

import hashlib
import json
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
from web.auth.current import CurrentUser, current_user, require_user
from web.auth.tokens import DocumentGrant, TokenError, read_document_token
from web.config import Settings
from web.i18n import locale_of
from web.pages.export import to_html, to_markdown
from web.pages.image_access import (
    covered_document_holds,
    document_holds,
    held_by,
    readable_page_holding,
    record_images,
    valid_names,
)
from web.pages.images import MEDIA_TYPES, ImageError, ImageStore, StoredImage
from web.pages.view import Crumb, EditorPage, PageLink, caret_colour
from web.spaces.access import PageContext, page_context, space_role
from web.spaces.guest_links import require_live_guest_link
from web.spaces.tree import PageNode, flatten, page_tree
from web.templating import STATIC_DIR, render

# Slack over the image limit for the multipart envelope (boundaries, headers, the alt field).
_MULTIPART_SLACK = 16 * 1024
# A references request is a short JSON list of names.
_MAX_REFERENCES_BODY = 16 * 1024
# Images follow their page's access, which can be withdrawn: browsers keep them briefly and
# then ask again (a cheap 304 when allowed), never for a year, never in shared caches.
IMAGE_CACHE_CONTROL = "private, max-age=600"
_NO_IMAGE = "Cette image n’existe pas ou vous n’y avez pas accès."


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
            Route(page + "/images/references", self.space_page_references, methods=["POST"]),
            Route(page + "/images/{name}", self.space_page_image, methods=["GET"]),
            Route(page + "/export.md", self.space_page_markdown, methods=["GET"]),
            Route(page + "/export.html", self.space_page_html, methods=["GET"]),
            Route("/d/{doc:path}/images", self.token_upload, methods=["POST"]),
            Route("/d/{doc:path}/images/references", self.token_references, methods=["POST"]),
            Route("/d/{doc:path}/images/{name}", self.token_image, methods=["GET"]),
            Route("/d/{doc:path}/export.md", self.token_markdown, methods=["GET"]),
            Route("/d/{doc:path}/export.html", self.token_html, methods=["GET"]),
            Route("/d/{doc:path}", self.token_page, methods=["GET"]),
            Route("/fichiers/images/{name}", self.shared_address_image, methods=["GET"]),
            Route("/sw.js", service_worker, methods=["GET"]),
        ]

    # --- pages of spaces --------------------------------------------------------------------

    async def _context(
        self, request: Request, *, say_ended: bool = False
    ) -> tuple[CurrentUser, PageContext]:
        user = require_user(request)
        context = await page_context(self.engine, user, int(request.path_params["page_id"]))
        if context is None and say_ended:
            # On the page view, a guest whose link has ended reads so (LinkEnded), and whom
            # to ask; its images and exports are simply not found.
            await require_live_guest_link(self.engine, user)
        # Same answer for "no such page" and "not yours": do not reveal which pages exist.
        if context is None or context.space.slug != request.path_params["slug"]:
            raise HTTPException(404, "Cette page n’existe pas ou vous n’y avez pas accès.")
        return user, context

    async def space_page(self, request: Request) -> Response:
        user, context = await self._context(request, say_ended=True)
        space = context.space
        base = f"/espaces/{quote(space.slug)}"
        here = _page_url(context)
        crumbs = (
            Crumb(space.name, base),
            *(Crumb(c.title, f"{base}/pages/{c.id}") for c in context.breadcrumbs),
        )
        links: tuple[PageLink, ...] = ()
        roots: tuple[PageNode, ...] = ()
        # Titles of the other pages only for those who may read the whole space (a guest
        # invited to one page does not learn what else the space holds).
        if await space_role(self.engine, user, space.id) is not None:
            roots = tuple(await page_tree(self.engine, space.id))
        if context.can_edit and roots:
            links = tuple(
                PageLink(node.title, f"{base}/pages/{node.id}")
                for node, _depth in flatten(list(roots))
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
            image_base=f"{here}/images",
            export_markdown_url=f"{here}/export.md",
            export_html_url=f"{here}/export.html",
            history_url=f"{here}/versions",
            share_url=f"{here}/partager" if user.guest_link_id is None else "",
            breadcrumbs=crumbs,
            page_links=links,
            tree=roots,
            space_url=base,
            page_id=context.page_id,
            rename_url=f"{here}/renommer" if context.can_edit and roots else "",
            item_id=context.page_id,
        )
        return render(request, "pages/editor.html", {"page": page})

    async def space_page_upload(self, request: Request) -> Response:
        _user, context = await self._context(request)
        if not context.can_edit:
            return JSONResponse({"error": "votre rôle ne permet pas de modifier"}, 403)
        stored = await self.receive_image(request)
        if isinstance(stored, Response):
            return stored
        # The image now belongs to this page: served under it, to those who may read it.
        await record_images(self.engine, context.doc_name, [stored.name])
        return JSONResponse({"url": f"{_page_url(context)}/images/{stored.name}"}, 201)

    async def space_page_references(self, request: Request) -> Response:
        """Bring images this editor can see elsewhere (a copy and paste) into the page."""
        user, context = await self._context(request)
        if not context.can_edit:
            return JSONResponse({"error": "votre rôle ne permet pas de modifier"}, 403)
        names = await self._reference_names(request)
        if isinstance(names, Response):
            return names
        adopted = await held_by(self.engine, context.doc_name, names)
        brought = [
            name
            for name in names
            if name not in adopted
            and self.images.path_of(name) is not None
            and await readable_page_holding(self.engine, user, name) is not None
        ]
        await record_images(self.engine, context.doc_name, brought)
        return JSONResponse({"images": sorted(adopted.union(brought))})

    async def space_page_image(self, request: Request) -> Response:
        _user, context = await self._context(request)
        name = str(request.path_params["name"])
        if not await document_holds(self.engine, context.doc_name, name):
            return _no_image()
        return self.send_image(request, name)

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
            image_base=f"{here}/images",
            export_markdown_url=f"{here}/export.md{query}",
            export_html_url=f"{here}/export.html{query}",
        )
        response = render(request, "pages/editor.html", {"page": page})
        # The address carries the token: never hand it to other sites in a Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def token_upload(self, request: Request) -> Response:
        doc, grant = self._grant(request)
        if not grant.writable:
            return JSONResponse({"error": "ce jeton est en lecture seule"}, 403)
        stored = await self.receive_image(request)
        if isinstance(stored, Response):
            return stored
        await record_images(self.engine, doc, [stored.name])
        # The address does not carry the token (it goes into the document's text); the
        # editor adds the reader's own token when it shows the image.
        return JSONResponse({"url": f"/d/{quote(doc)}/images/{stored.name}"}, 201)

    async def token_references(self, request: Request) -> Response:
        """Bring images held by other documents this token covers into this one."""
        doc, grant = self._grant(request)
        if not grant.writable:
            return JSONResponse({"error": "ce jeton est en lecture seule"}, 403)
        names = await self._reference_names(request)
        if isinstance(names, Response):
            return names
        adopted = await held_by(self.engine, doc, names)
        brought = [
            name
            for name in names
            if name not in adopted
            and self.images.path_of(name) is not None
            and await covered_document_holds(self.engine, grant.prefix, name)
        ]
        await record_images(self.engine, doc, brought)
        return JSONResponse({"images": sorted(adopted.union(brought))})

    async def token_image(self, request: Request) -> Response:
        doc, _grant = self._grant(request)
        name = str(request.path_params["name"])
        if not await document_holds(self.engine, doc, name):
            return _no_image()
        return self.send_image(request, name)

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

    async def receive_image(self, request: Request) -> StoredImage | Response:
        """Store the `file` of a multipart upload (the caller authorised); or the refusal."""
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
            return self.images.save(data)
        except ImageError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)

    async def _reference_names(self, request: Request) -> list[str] | Response:
        """The image names of a references request: `{"images": ["<sha256>.png", ...]}`."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > _MAX_REFERENCES_BODY:
            return JSONResponse({"error": "trop d’images en une fois"}, 413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_REFERENCES_BODY:
                return JSONResponse({"error": "trop d’images en une fois"}, 413)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        names = valid_names(data.get("images") if isinstance(data, dict) else None)
        if names is None:
            message = 'attendu : {"images": ["<sha256>.png", …]} (100 au plus)'
            return JSONResponse({"error": message}, 422)
        return names

    async def shared_address_image(self, request: Request) -> Response:
        """The old shared address: for a signed-in person who may read a page holding it."""
        user = current_user(request)
        name = str(request.path_params["name"])
        if user is None or await readable_page_holding(self.engine, user, name) is None:
            return _no_image()
        return self.send_image(request, name)

    def send_image(self, request: Request, name: str) -> Response:
        """The image's bytes (the caller checked access), or a 304 when the browser has them."""
        path = self.images.path_of(name)
        if path is None:
            return _no_image()
        # Named by content: the name is a strong validator of the bytes.
        etag = f'"{name}"'
        headers = {
            "Cache-Control": IMAGE_CACHE_CONTROL,
            "ETag": etag,
            "Content-Security-Policy": "default-src 'none'; sandbox",
            # Only this site's pages may show it (another site's <img> gets nothing).
            "Cross-Origin-Resource-Policy": "same-origin",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix[1:]], headers=headers)


def _page_url(context: PageContext) -> str:
    return f"/espaces/{quote(context.space.slug)}/pages/{context.page_id}"


def _no_image() -> Response:
    """One answer for an unknown image and one the person may not see; never cached."""
    return PlainTextResponse(_NO_IMAGE, 404, headers={"Cache-Control": "no-store"})


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
