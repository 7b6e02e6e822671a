"""OpenID Connect sign-in (ProConnect and the like) through Authlib, when configured.

Authlib keeps the state, nonce and PKCE verifier of a sign-in in `request.session`; rather
than adding a session middleware to the whole app, they live in a short-lived signed cookie
(`atelier_oidc`, ten minutes) read back on the provider's redirect.

An identity seen for the first time is linked by e-mail to an existing account, or gets a new
one, only when the provider says the address is verified (`email_verified: true`, or
ATELIER_OIDC_TRUST_EMAIL for a provider that verifies every address and sends no such claim):
otherwise anyone able to put someone else's address on an account at the provider would enter
that person's Atelier account. An identity linked already signs in as before.
"""

from __future__ import annotations

import json
import logging
import secrets
import warnings
from typing import Any
from urllib.parse import urlencode

from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from httpx import HTTPError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import JoseError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from web.accounts import instance, registration
from web.accounts import users as accounts
from web.accounts.mails import base_url
from web.auth.current import cookie_secure, current_user, safe_next, start_session
from web.auth.forms import redirect
from web.config import Settings
from web.i18n import N_, gettext_for
from web.templating import render

with warnings.catch_warnings():
    # Authlib 1.9 warns that it falls back to httpx when `httpx2` is not installed: it works.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
    from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]

log = logging.getLogger("atelier.oidc")
COOKIE_NAME = "atelier_oidc"
# The provider's id_token, kept for signing out there too (ProConnect requires it).
LOGOUT_COOKIE = "atelier_oidc_logout"
_MAX_AGE = 600
UNVERIFIED_EMAIL = N_(
    "Le service de connexion ne confirme pas que cette adresse électronique est la vôtre : "
    "Atelier ne peut donc ni vous créer un compte avec elle, ni la relier à un compte "
    "existant. Faites confirmer votre adresse par ce service, ou connectez-vous avec votre "
    "mot de passe Atelier."
)


class OIDCProvider:
    """The configured OpenID Connect provider (an Authlib client)."""

    def __init__(self, settings: Settings) -> None:
        self.label = settings.oidc_label
        oauth = OAuth()
        self.client: Any = oauth.register(
            "atelier",
            server_metadata_url=settings.oidc_discovery_url,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OIDCProvider | None:
        if not (settings.oidc_discovery_url and settings.oidc_client_id):
            return None
        return cls(settings)


class _AuthlibRequest:
    """What Authlib reads of a request, with `session` backed by our signed cookie."""

    def __init__(self, request: Request, session: dict[str, Any]) -> None:
        self.scope: Scope = request.scope
        self.query_params: QueryParams = request.query_params
        self.session = session


def _serializer(request: Request, purpose: str = "state") -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret, salt=f"atelier.oidc.{purpose}.v1")


def _callback_url(request: Request) -> str:
    return f"{base_url(request)}/connexion/oidc/retour"


async def start(request: Request) -> Response:
    provider: OIDCProvider | None = request.app.state.oidc
    if provider is None:
        return redirect("/connexion")
    session: dict[str, Any] = {"next": safe_next(request.query_params.get("next"))}
    try:
        response: Response = await provider.client.authorize_redirect(
            _AuthlibRequest(request, session), _callback_url(request)
        )
    except (HTTPError, OAuthError, ValueError) as exc:
        log.warning("OpenID Connect provider unreachable: %s", exc)
        return _failure(request, "Le service de connexion ne répond pas. Réessayez plus tard.")
    cookie = _serializer(request).dumps(json.dumps(session))
    secure = cookie_secure(request.scope)
    response.raw_headers.append(
        (
            b"set-cookie",
            f"{COOKIE_NAME}={cookie}; Path=/connexion/oidc; Max-Age={_MAX_AGE}; HttpOnly; "
            f"SameSite=Lax{secure}".encode(),
        )
    )
    return response


def email_verified(claims: dict[str, Any], *, trusted: bool) -> bool:
    """Does the provider vouch for the address of these claims? `email_verified` true (some
    providers send the string "true"); absent, only when the provider is `trusted`."""
    value = claims.get("email_verified")
    if value is None:
        return trusted
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _failure(request: Request, message: str, status: int = 400) -> Response:
    t = gettext_for(request).gettext
    return render(
        request,
        "auth/error.html",
        {"status_code": status, "title": t("Connexion impossible"), "message": t(message)},
        status_code=status,
    )


async def callback(request: Request) -> Response:
    provider: OIDCProvider | None = request.app.state.oidc
    if provider is None:
        return redirect("/connexion")
    try:
        raw = _serializer(request).loads(request.cookies.get(COOKIE_NAME, ""), max_age=_MAX_AGE)
        session = json.loads(raw)
        assert isinstance(session, dict)
    except (BadSignature, ValueError, AssertionError):
        return _failure(
            request, "Cette connexion a expiré. Recommencez depuis la page de connexion."
        )
    try:
        token = await provider.client.authorize_access_token(_AuthlibRequest(request, session))
        claims = dict(token.get("userinfo") or {})
        if not claims.get("email"):
            answer = dict(await provider.client.userinfo(token=token))
            if claims.get("sub") and answer.get("sub") != claims["sub"]:
                # OpenID Connect Core 5.3.2: about someone else, it must not be used.
                raise ValueError("the userinfo answer is not about the id_token's subject")
            claims.update(answer)
    except (HTTPError, OAuthError, JoseError, ValueError, KeyError) as exc:
        # JoseError: an id_token that fails its checks (signature, issuer, audience, expiry,
        # nonce) is the provider's refusal as much as an error answer is.
        log.warning("OpenID Connect sign-in failed: %s", exc)
        return _failure(request, "Le service de connexion a refusé cette connexion.")

    subject, email = str(claims.get("sub") or ""), str(claims.get("email") or "")
    if not subject or not email:
        return _failure(request, "Le service de connexion n'a pas transmis votre adresse.")
    name = str(
        claims.get("name")
        or " ".join(
            str(claims[k]) for k in ("given_name", "usual_name", "family_name") if claims.get(k)
        )
        or email
    )
    settings: Settings = request.app.state.settings
    engine = request.app.state.engine
    if not email_verified(claims, trusted=settings.oidc_trust_email):
        if await accounts.find_by_oidc_subject(engine, subject) is None:
            log.info("OpenID Connect sign-in refused: address not verified by the provider")
            return _failure(request, UNVERIFIED_EMAIL, 403)
    outcome = await registration.oidc_account(
        engine,
        subject=subject,
        email=email,
        display_name=name,
        organisation=str(claims.get("organizational_unit") or ""),
        domains=(await instance.current(engine, settings)).signup_domains,
    )
    if outcome.user is None or not outcome.user.is_active:
        status = outcome.user.status if outcome.user else "refused"
        messages = {
            "pending": N_(
                "Votre inscription attend l'accord d'un administrateur. "
                "Vous recevrez un courriel dès qu'elle sera examinée."
            ),
            "deactivated": N_("Ce compte est désactivé. Adressez-vous à un administrateur."),
        }
        return _failure(
            request, messages.get(status, N_("Votre inscription n'a pas été acceptée.")), 403
        )
    previous = current_user(request)
    if previous is not None:
        await request.app.state.sessions.revoke(previous.session_id)
    response = redirect(safe_next(str(session.get("next") or "/")))
    await start_session(request, response, outcome.user.id)
    response.delete_cookie(COOKIE_NAME, path="/connexion/oidc")
    id_token = token.get("id_token")
    if isinstance(id_token, str) and len(id_token) < 3000:
        secure = cookie_secure(request.scope)
        signed = _serializer(request, "logout").dumps(id_token)
        cookie = f"{LOGOUT_COOKIE}={signed}; Path=/deconnexion; HttpOnly; SameSite=Lax{secure}"
        response.raw_headers.append((b"set-cookie", cookie.encode()))
    return response


async def provider_logout_url(request: Request) -> str | None:
    """Where to end the provider's session too, for a person who signed in through it."""
    provider: OIDCProvider | None = request.app.state.oidc
    cookie = request.cookies.get(LOGOUT_COOKIE, "")
    if provider is None or not cookie:
        return None
    try:
        id_token = _serializer(request, "logout").loads(cookie)
        metadata = await provider.client.load_server_metadata()
    except (BadSignature, HTTPError, ValueError) as exc:
        log.warning("OpenID Connect sign-out skipped: %s", exc)
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not isinstance(id_token, str):
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "state": secrets.token_urlsafe(16),
            "post_logout_redirect_uri": f"{base_url(request)}/connexion?avis=deconnecte",
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def oidc_routes() -> list[BaseRoute]:
    return [
        Route("/connexion/oidc", start, methods=["GET"]),
        Route("/connexion/oidc/retour", callback, methods=["GET"]),
    ]
