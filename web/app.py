"""The Starlette application: `create_app(settings=None)`; `atelier serve` runs `serve_app`."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from live.log import make_log
from live.stream import LiveStream
from plumbing.bus import make_bus
from plumbing.sockets import AccessChanges, LiveSockets
from realtime.endpoint import Access, AccessRefused, EndpointLimits, Grant, SyncEndpoint
from realtime.rooms import DocumentRooms, RoomLimits
from realtime.store import DocumentStore
from sfu.endpoint import VisioEndpoint
from web import logs, ticks
from web.accounts.setup import AccountsSetup
from web.auth.current import SignInRequired
from web.auth.tokens import TokenError, load_secret_key, read_document_token
from web.config import Settings
from web.database import create_engine, database_url, prepare_data_dir
from web.gc_tuning import freeze_startup_heap
from web.hosts import KnownHostMiddleware
from web.live_access import watching_expiries
from web.live_topics import ItemTopics, LiveAuthorizer
from web.pages.routes import PageRoutes
from web.pages.version_routes import VersionRoutes
from web.pages.versions import VersionKeeper
from web.search.indexer import search_indexing
from web.search.routes import search_routes
from web.social.comments import comment_counts
from web.social.items import ItemKinds
from web.social.mails import NotificationMails
from web.social.model import Limits, SocialStore
from web.social.routes import SocialRoutes
from web.spaces.guest_links import LinkEnded
from web.spaces.link_routes import link_ended, sign_in_or_ended
from web.spaces.routes import spaces_routes
from web.spaces.sync_auth import SpacesAuthorizer
from web.spaces.tree import purge_trash
from web.tasks.common import TaskHooks, TaskStore
from web.tasks.live import may_follow_task
from web.tasks.routes import TaskRoutes
from web.templating import STATIC_DIR
from web.theme import load_theme
from web.visio.access import MeetingAuthorizer
from web.visio.routes import visio_routes
from web.visio.sfu_setup import make_sfu

log = logging.getLogger("atelier.web")


class TokenAuthorizer:
    """Grants documents to `?token=` holders (the session cookie joins in with the web app)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def __call__(self, websocket: WebSocket, document: str) -> Grant:
        token = websocket.query_params.get("token")
        if not token:
            raise AccessRefused(4401, "sign in or pass ?token=")
        try:
            grant = read_document_token(self._secret, token, now=time.time())
        except TokenError as exc:
            raise AccessRefused(4401, str(exc)) from None
        if not grant.covers(document):
            raise AccessRefused(4403, "this token does not grant that document")
        access = Access.WRITE if grant.writable else Access.READ

        async def recheck() -> Grant:  # a token that expired meanwhile ends its socket
            try:
                read_document_token(self._secret, token, now=time.time())
            except TokenError as exc:
                raise AccessRefused(4401, str(exc)) from None
            return Grant(access, tags, recheck)

        tags = frozenset({f"token:{grant.name}"})
        return Grant(access, tags, recheck)


def _exception_handlers(accounts: AccountsSetup) -> dict[Any, Any]:
    """The accounts' handlers, with the page of an ended guest link instead of the sign-in
    form for a guest whose link was revoked or has expired."""
    handlers = dict(accounts.exception_handlers())
    handlers[SignInRequired] = sign_in_or_ended(handlers[SignInRequired])
    handlers[LinkEnded] = link_ended
    return handlers


def serve_app() -> Starlette:
    """`create_app` for `atelier serve`: the app owns its process (see `tune_gc`, and
    `web.ticks` for uvicorn's once-a-second housekeeping)."""
    ticks.install()
    return create_app(tune_gc=True)


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> Starlette:
    """Build the application; resources open and close in the lifespan.

    `tune_gc`: once ready, freeze the startup heap and enlarge the collector's young
    generation. Process-wide, so only for a process that runs nothing but this app.
    """
    settings = settings or Settings.from_env()
    settings.check()
    settings.check_serving()
    theme = load_theme(settings.theme, STATIC_DIR)  # `etat` without the DSFR's files stops here
    logs.install()  # uvicorn logs each socket's URL, and `?token=` is a credential
    data_dir = settings.data_path
    prepare_data_dir(data_dir)  # 0700, its files 0600
    secret = load_secret_key(settings.secret_key, data_dir)

    engine = create_engine(database_url(data_dir, settings.database_url or None))
    store = DocumentStore(
        engine,
        commit_interval=settings.commit_interval_ms / 1000,
        compact_after=settings.compact_after_updates,
    )
    bus = make_bus(settings.redis_url)
    rooms = DocumentRooms(
        store,
        bus,
        RoomLimits(
            max_document_bytes=settings.max_document_bytes,
            send_buffer_bytes=settings.send_buffer_bytes,
            room_idle_seconds=settings.room_idle_seconds,
        ),
    )
    # Every live socket, by what its access rests on: ending a session, a membership or a link
    # closes (or narrows) exactly those, here and on the other workers.
    live_sockets = LiveSockets()
    access = AccessChanges(live_sockets, bus)
    accounts = AccountsSetup(settings, engine, secret, access)
    sync = SyncEndpoint(
        rooms,
        # The session user (members, guest-link sessions) first, then `?token=`.
        SpacesAuthorizer(accounts.sessions, TokenAuthorizer(secret)),
        EndpointLimits(
            max_message_bytes=settings.max_message_bytes,
            rate_messages=settings.rate_messages,
            rate_burst=settings.rate_burst,
        ),
        live_sockets,
    )
    # Visio: the SFU runs in this process; with Redis, rooms are leased and signaling relayed;
    # with ATELIER_VISIO_MODE=signaling every meeting runs on `atelier sfu` nodes instead.
    sfu = make_sfu(settings, bus)
    visio = VisioEndpoint(sfu, MeetingAuthorizer(accounts.sessions, secret), live_sockets)
    # The live event stream (/live): notifications, comments and every other live list, one
    # socket per tab; a Redis Stream across workers.
    live_items = ItemTopics()
    live_items.register("task", may_follow_task)
    live = LiveStream(
        make_log(settings.redis_url, settings.live_retention_events),
        LiveAuthorizer(accounts.sessions, live_items),
        live_sockets,
    )
    # Tasks: the social layer adds its activity feed and comment counts to these hooks.
    task_hooks = TaskHooks()
    # The social layer: comments, reactions, mentions, notifications and their mails.
    social = SocialStore(
        engine,
        ItemKinds(),
        Limits(
            max_comment_chars=settings.comment_max_chars,
            max_mentions=settings.mentions_per_comment,
            comments_per_minute=settings.comments_per_minute,
            batch_seconds=settings.notification_batch_seconds,
            digest_hour=settings.notification_digest_hour,
        ),
    )
    task_hooks.comment_counts = lambda conn, ids: comment_counts(conn, "task", ids)
    notification_mails = NotificationMails(
        engine,
        accounts.mailer,
        social.kinds,
        secret,
        settings.public_base_url,
        every=settings.notification_mail_seconds,
    )
    keeper = VersionKeeper(engine, rooms, store, interval_minutes=settings.version_interval_minutes)
    ready = False

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal ready
        await store.start()
        try:
            await bus.start()
            try:
                await rooms.start()
                await sfu.start()
                await live.start()
                await keeper.start()  # automatic versions of changed pages
                await notification_mails.start()  # batched mails and digests
                # Ended sessions, revoked links and removed members lose their sockets on
                # every worker.
                await access.listen()
                try:
                    await purge_trash(engine)
                except Exception:  # the schema may not be migrated yet
                    log.warning("could not purge the pages trash", exc_info=True)
                if tune_gc:
                    freeze_startup_heap()
                ready = True
                log.info("atelier ready (bus: %s)", "redis" if settings.redis_url else "in-process")
                # Sessions and guest links that expire while connected are cut off within
                # seconds.
                async with (
                    watching_expiries(engine, live_sockets, settings.access_watch_seconds),
                    search_indexing(app),
                ):
                    yield
                ready = False
                await access.close()
                await notification_mails.close()
                await keeper.close()
                await live.close()
                await sfu.close()
                await rooms.close()
            finally:
                await bus.close()
        finally:
            await store.close()
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        if not ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        stats = store.stats
        # The store's own figures: what durability tests and operators watch (no content).
        return JSONResponse(
            {
                "status": "ok",
                "documents_loaded": len(rooms.loaded),
                "store": {
                    "updates_pending": stats.pending,
                    "commits": stats.commits,
                    "slowest_recent_commit_ms": round(
                        max(stats.commit_seconds, default=0) * 1e3, 1
                    ),
                },
            }
        )

    async def home(request: Request) -> Response:
        # Signed in: straight to one's spaces; otherwise to the sign-in page.
        signed_in = getattr(request.state, "user", None) is not None
        return RedirectResponse("/espaces" if signed_in else "/connexion", status_code=303)

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            WebSocketRoute("/sync/{doc:path}", sync.handle),
            WebSocketRoute("/visio/{room}", visio.handle),
            WebSocketRoute("/live", live.handle),
            *accounts.routes(),
            *visio_routes(),
            *spaces_routes(),
            *search_routes(),
            *PageRoutes(settings, secret, engine, rooms, store).routes(),
            *VersionRoutes(engine, rooms, store).routes(),
            *TaskRoutes(TaskStore(engine, task_hooks)).routes(),
            *SocialRoutes(social, notification_mails).routes(),
        ],
        # Outermost: a request naming another host is refused before anything else runs.
        middleware=[
            Middleware(KnownHostMiddleware, hosts=settings.accepted_hosts),
            *accounts.middleware(),
        ],
        exception_handlers=_exception_handlers(accounts),
        lifespan=lifespan,
    )
    accounts.install(app)
    app.state.settings = settings
    app.state.theme = theme
    app.state.rooms = rooms
    app.state.bus = bus
    app.state.store = store
    app.state.sfu = sfu
    app.state.access = access
    app.state.live = live
    app.state.live_items = live_items
    app.state.task_hooks = task_hooks
    app.state.social = social
    app.state.notification_mails = notification_mails
    app.state.versions = keeper
    return app
