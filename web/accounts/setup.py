"""Plugs accounts into the app: state, middleware, routes and error pages.

`create_app` builds one `AccountsSetup` and passes its `middleware()`, `routes()` and
`exception_handlers()` to Starlette, then calls `install(app)`. After that, routes find
`app.state.engine`, `.secret`, `.sessions` (SessionStore), `.throttle` (SignInThrottle),
`.reset_limit` and `.signup_limit` (RequestLimit), `.mailer`,
`.templates`, `.oidc` (OIDCProvider or None) and `.settings`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from plumbing.sockets import AccessChanges
from web.accounts.admin_routes import instance_admin_routes
from web.accounts.routes import account_admin_routes
from web.auth.csrf import CSRFMiddleware
from web.auth.current import CurrentUserMiddleware, SignInRequired, sign_in_url
from web.auth.oidc import OIDCProvider, oidc_routes
from web.auth.routes import auth_routes
from web.auth.sessions import SessionStore
from web.auth.throttle import (
    REQUEST_WINDOW,
    REQUESTS_PER_ADDRESS,
    RequestLimit,
    SignInThrottle,
    ThrottleRule,
)
from web.config import Settings
from web.i18n import N_, LocaleMiddleware, gettext_for
from web.mail import Mailer, SMTPConfig
from web.security import SecurityHeadersMiddleware
from web.templating import STATIC_DIR, make_templates, render

ERROR_TITLES = {
    400: N_("Demande incorrecte"),
    401: N_("Connexion nécessaire"),
    403: N_("Accès refusé"),
    404: N_("Page introuvable"),
    405: N_("Méthode non autorisée"),
    410: N_("Lien expiré"),
    413: N_("Envoi trop volumineux"),
    422: N_("Données invalides"),
    429: N_("Trop de demandes"),
}
DEFAULT_DETAILS = {
    404: N_("Cette page n'existe pas ou plus."),
    405: N_("Cette action n'est pas possible ici."),
}


class PublicStaticFiles(StaticFiles):
    """`/static`, without the bundle's source maps unless ATELIER_SERVE_SOURCE_MAPS is on.

    A source map carries the editor's TypeScript sources: useful when debugging, not to
    hand to anyone who asks.
    """

    def __init__(self, *, directory: Path, serve_source_maps: bool) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.serve_source_maps = serve_source_maps

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not self.serve_source_maps and path.lower().rstrip("/").endswith(".map"):
            raise HTTPException(404)
        return await super().get_response(path, scope)


class AccountsSetup:
    """Everything accounts add to the app, built from the settings."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        secret: str,
        changes: AccessChanges | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.secret = secret
        self.sessions = SessionStore(engine, secret, timedelta(days=settings.session_days), changes)
        rule = ThrottleRule.from_settings(settings)
        self.throttle = SignInThrottle(engine, rule)
        self.reset_limit, self.signup_limit = (
            RequestLimit(
                engine,
                kind,
                per_key=settings.login_max_failures,
                per_address=REQUESTS_PER_ADDRESS,
                window=REQUEST_WINDOW,
            )
            for kind in ("reset", "signup")
        )
        self.mailer = Mailer(engine, SMTPConfig.from_settings(settings))
        self.oidc = OIDCProvider.from_settings(settings)

    def middleware(self) -> list[Middleware]:
        """Outermost first: headers on every response, then who, then language, then CSRF."""
        return [
            Middleware(SecurityHeadersMiddleware),
            Middleware(CurrentUserMiddleware, store=self.sessions),
            Middleware(LocaleMiddleware),
            Middleware(CSRFMiddleware, secret=self.secret),
        ]

    def routes(self) -> list[BaseRoute]:
        return [
            *auth_routes(),
            *oidc_routes(),
            *account_admin_routes(),
            *instance_admin_routes(),
            Mount(
                "/static",
                PublicStaticFiles(
                    directory=STATIC_DIR, serve_source_maps=self.settings.serve_source_maps
                ),
                name="static",
            ),
        ]

    def exception_handlers(self) -> dict[Any, Any]:
        return {
            SignInRequired: _sign_in_required,
            HTTPException: _http_error,
            Exception: _server_error,
        }

    def install(self, app: Starlette) -> None:
        app.state.engine = self.engine
        app.state.secret = self.secret
        app.state.sessions = self.sessions
        app.state.throttle = self.throttle
        app.state.reset_limit = self.reset_limit
        app.state.signup_limit = self.signup_limit
        app.state.mailer = self.mailer
        app.state.oidc = self.oidc
        app.state.templates = make_templates()


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if _wants_json(request):
        message = gettext_for(request).gettext("Connectez-vous pour continuer.")
        return JSONResponse({"error": message}, status_code=401)
    target = exc.next_path if request.method == "GET" else request.url.path
    return RedirectResponse(sign_in_url(target), status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    t = gettext_for(request).gettext
    detail = exc.detail if exc.detail and exc.detail != _reason(exc.status_code) else ""
    detail = detail or DEFAULT_DETAILS.get(exc.status_code, "")
    headers = dict(exc.headers or {})
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    if _wants_json(request):
        return JSONResponse(
            {"error": t(detail) if detail else _reason(exc.status_code)},
            status_code=exc.status_code,
            headers=headers,
        )
    response = render(
        request,
        "auth/error.html",
        {
            "status_code": exc.status_code,
            "title": t(ERROR_TITLES.get(exc.status_code, N_("Erreur"))),
            "message": t(detail) if detail else "",
        },
        status_code=exc.status_code,
    )
    response.headers.update(headers)
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    """A bug: the person gets a page in their language (the traceback goes to the log)."""
    if _wants_json(request):
        return JSONResponse({"error": "Erreur interne du serveur."}, status_code=500)
    t = gettext_for(request).gettext
    try:
        response: Response = render(
            request,
            "auth/error.html",
            {
                "status_code": 500,
                "title": t(N_("Erreur interne")),
                "message": t(N_("Une erreur inattendue s'est produite. Réessayez plus tard.")),
            },
            status_code=500,
        )
    except Exception:  # the error page itself failed: plain text, never a second crash
        response = PlainTextResponse("Erreur interne du serveur.", status_code=500)
    # This handler runs outside the other middleware: add the security headers here.
    response.headers.update(
        {
            "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "same-origin",
        }
    )
    return response


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
