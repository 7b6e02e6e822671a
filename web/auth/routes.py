"""Sign in and out, language switch, account page, forgotten password (thin routes)."""

from __future__ import annotations

import logging
import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.accounts import tokens as account_tokens
from web.accounts import users as accounts
from web.accounts.mails import send_reset_mail
from web.auth.current import (
    clear_session_cookie,
    cookie_secure,
    current_user,
    require_user,
    safe_next,
    start_session,
)
from web.auth.forms import client_address, field, notice, redirect
from web.auth.oidc import LOGOUT_COOKIE, provider_logout_url
from web.auth.passwords import needs_rehash, password_problem, verify_password
from web.auth.sessions import SessionStore
from web.auth.throttle import RequestLimit, SignInThrottle
from web.i18n import COOKIE_NAME as LOCALE_COOKIE
from web.i18n import N_, gettext_for, normalise
from web.local_time import DEFAULT_ZONE, zone_choices
from web.templating import render

log = logging.getLogger("atelier.auth")

STATUS_MESSAGES = {
    "pending": N_(
        "Votre inscription attend l'accord d'un administrateur. "
        "Vous recevrez un courriel dès qu'elle sera examinée."
    ),
    "unconfirmed": N_("Confirmez d'abord votre adresse : suivez le lien reçu par courriel."),
    "refused": N_("Votre inscription n'a pas été acceptée."),
    "deactivated": N_("Ce compte est désactivé. Adressez-vous à un administrateur."),
}


def _sign_in_page(
    request: Request, *, error: str = "", email: str = "", next_path: str = "/", status: int = 200
) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        "auth/connexion.html",
        {
            "error": error,
            "email": email,
            "next": next_path,
            "notice": notice(request),
            "oidc_label": settings.oidc_label if request.app.state.oidc else "",
        },
        status_code=status,
    )


async def sign_in_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if current_user(request) is not None and not request.query_params.get("avis"):
        return redirect(next_path)
    return _sign_in_page(request, next_path=next_path)


def _retry_in(request: Request, seconds: int) -> str:
    """'Too many attempts: try again in N seconds' (in minutes past a minute and a half)."""
    translations = gettext_for(request)
    if seconds <= 90:
        return translations.ngettext(
            "Trop de tentatives : réessayez dans %(n)d seconde.",
            "Trop de tentatives : réessayez dans %(n)d secondes.",
            seconds,
        ) % {"n": seconds}
    minutes = math.ceil(seconds / 60)
    return translations.ngettext(
        "Trop de tentatives : réessayez dans %(n)d minute.",
        "Trop de tentatives : réessayez dans %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


async def sign_in(request: Request) -> Response:
    form = await request.form()
    email = accounts.normalise_email(field(form, "email", 320))
    password = field(form, "password", 1024)
    next_path = safe_next(field(form, "next"))
    t = gettext_for(request).gettext
    throttle: SignInThrottle = request.app.state.throttle
    address = client_address(request)

    attempt = await throttle.attempt(email, address)
    if attempt.wait:
        log.warning("sign-in slowed for %r from %s (%d s left)", email, address, attempt.wait)
        response = _sign_in_page(
            request,
            error=_retry_in(request, attempt.wait),
            email=email,
            next_path=next_path,
            status=429,
        )
        response.headers["Retry-After"] = str(attempt.wait)
        return response

    engine = request.app.state.engine
    user = await accounts.find_by_email(engine, email) if email else None
    if not await verify_password(user.password_hash if user else None, password):
        log.info("sign-in refused for %r from %s", email, address)
        await throttle.failed(attempt)
        return _sign_in_page(
            request,
            error=t("Adresse électronique ou mot de passe incorrect."),
            email=email,
            next_path=next_path,
            status=400,
        )
    assert user is not None and user.password_hash is not None
    await throttle.succeeded(attempt)
    if not user.is_active:
        message = STATUS_MESSAGES.get(user.status, STATUS_MESSAGES["deactivated"])
        return _sign_in_page(
            request, error=t(message), email=email, next_path=next_path, status=403
        )
    if needs_rehash(user.password_hash):
        await accounts.set_password(engine, user.id, password)
    previous = current_user(request)
    if previous is not None:
        await request.app.state.sessions.revoke(previous.session_id)
    response = redirect(next_path)
    await start_session(request, response, user.id)
    await accounts.touch_login(engine, user.id)
    return response


# Sent with the sign-out response: the browser drops the editor's offline copies (IndexedDB),
# the service worker and its caches, and the HTTP cache of this site, so whoever uses the
# computer next finds none of the documents. Browsers honour it on HTTPS and localhost only.
CLEAR_SITE_DATA = '"cache", "storage"'


def forget_site_data(response: Response) -> None:
    """Ask the browser to clear what this site stored in it (the session cookie apart)."""
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA


async def sign_out(request: Request) -> Response:
    user = current_user(request)
    if user is not None:
        await request.app.state.sessions.revoke(user.session_id)
    # Signed in through the identity provider: sign out there too, which comes back here.
    elsewhere = await provider_logout_url(request) if user is not None else None
    response = redirect(elsewhere) if elsewhere else redirect("/connexion", "deconnecte")
    clear_session_cookie(request, response)
    response.delete_cookie(LOGOUT_COOKIE, path="/deconnexion")
    forget_site_data(response)
    return response


async def sign_out_everywhere(request: Request) -> Response:
    user = require_user(request)
    store: SessionStore = request.app.state.sessions
    await store.revoke_all(user.id)
    response = redirect("/connexion", "partout")
    clear_session_cookie(request, response)
    forget_site_data(response)
    return response


async def switch_language(request: Request) -> Response:
    form = await request.form()
    locale = normalise(field(form, "langue", 8))
    response = redirect(safe_next(field(form, "next")))
    secure = cookie_secure(request.scope)
    response.raw_headers.append(
        (
            b"set-cookie",
            f"{LOCALE_COOKIE}={locale}; Path=/; Max-Age=31536000; SameSite=Lax{secure}".encode(),
        )
    )
    user = current_user(request)
    if user is not None:
        await accounts.set_locale(request.app.state.engine, user.id, locale)
    return response


async def account_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    user = require_user(request)
    account = await accounts.get_user(request.app.state.engine, user.id)
    return render(
        request,
        "auth/compte.html",
        {
            "account": account,
            "notice": notice(request),
            "error": error,
            "zones": zone_choices(),
            "default_zone": DEFAULT_ZONE,
        },
        status_code=status,
    )


async def change_profile(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    try:
        await accounts.set_profile(
            request.app.state.engine,
            user.id,
            display_name=field(form, "display_name", 300),
            organisation=field(form, "organisation", 300),
            time_zone=field(form, "time_zone", 64) if "time_zone" in form else None,
        )
    except accounts.AccountError as exc:
        t = gettext_for(request).gettext
        return await account_page(request, error=t(str(exc)), status=400)
    return redirect("/compte", "profil")


async def change_password(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    t = gettext_for(request).gettext
    engine = request.app.state.engine
    account = await accounts.get_user(engine, user.id)
    assert account is not None
    current, new, again = (field(form, n, 1024) for n in ("current", "password", "password2"))
    if account.password_hash is not None and not await verify_password(
        account.password_hash, current
    ):
        return await account_page(
            request, error=t("Le mot de passe actuel est incorrect."), status=400
        )
    problem = password_problem(new) or (
        None if new == again else N_("Les deux mots de passe ne sont pas identiques.")
    )
    if problem:
        return await account_page(request, error=t(problem), status=400)
    await accounts.set_password(engine, user.id, new)
    # Other devices signed in with the old password are signed out.
    await request.app.state.sessions.revoke_all(user.id, keep=user.session_id)
    return redirect("/compte", "mot-de-passe")


# --- Forgotten password -------------------------------------------------------------------


async def forgot_form(request: Request) -> Response:
    return render(
        request, "auth/mot_de_passe_oublie.html", {"sent": False, "email": "", "error": ""}
    )


async def forgot(request: Request) -> Response:
    form = await request.form()
    email = accounts.normalise_email(field(form, "email", 320))
    engine = request.app.state.engine
    # A few per email address and window: nobody floods an inbox with reset mails.
    limit: RequestLimit = request.app.state.reset_limit
    address = client_address(request)
    wait = await limit.retry_after(email, address)
    if wait:
        t = gettext_for(request).gettext
        response = render(
            request,
            "auth/mot_de_passe_oublie.html",
            {"sent": False, "email": email, "error": t("Trop de demandes. Réessayez plus tard.")},
            status_code=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    await limit.record(email, address)
    user = await accounts.find_by_email(engine, email) if email else None
    # The page says the same whether the account exists or not.
    if user is not None and user.status == "active":
        token = await account_tokens.issue(engine, user.id, "reset")
        await send_reset_mail(request, user, token)
    return render(
        request, "auth/mot_de_passe_oublie.html", {"sent": True, "email": email, "error": ""}
    )


async def reset_form(request: Request) -> Response:
    token = request.path_params["token"]
    user_id = await account_tokens.peek(request.app.state.engine, token, "reset")
    return render(
        request,
        "auth/reinitialiser.html",
        {"valid": user_id is not None, "token": token, "error": ""},
        status_code=200 if user_id is not None else 410,
    )


async def reset(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    t = gettext_for(request).gettext
    engine = request.app.state.engine
    password, again = field(form, "password", 1024), field(form, "password2", 1024)
    problem = password_problem(password) or (
        None if password == again else N_("Les deux mots de passe ne sont pas identiques.")
    )
    if problem:
        valid = await account_tokens.peek(engine, token, "reset") is not None
        return render(
            request,
            "auth/reinitialiser.html",
            {"valid": valid, "token": token, "error": t(problem)},
            status_code=400,
        )
    user_id = await account_tokens.consume(engine, token, "reset")
    if user_id is None:
        return render(
            request,
            "auth/reinitialiser.html",
            {"valid": False, "token": token, "error": ""},
            status_code=410,
        )
    await accounts.set_password(engine, user_id, password)
    # Whoever knew the old password is signed out everywhere.
    await request.app.state.sessions.revoke_all(user_id)
    return redirect("/connexion", "reinitialise")


def auth_routes() -> list[BaseRoute]:
    return [
        Route("/connexion", sign_in_form, methods=["GET"]),
        Route("/connexion", sign_in, methods=["POST"]),
        Route("/deconnexion", sign_out, methods=["POST"]),
        Route("/deconnexion-partout", sign_out_everywhere, methods=["POST"]),
        Route("/langue", switch_language, methods=["POST"]),
        Route("/compte", account_page, methods=["GET"]),
        Route("/compte/profil", change_profile, methods=["POST"]),
        Route("/compte/mot-de-passe", change_password, methods=["POST"]),
        Route("/mot-de-passe-oublie", forgot_form, methods=["GET"]),
        Route("/mot-de-passe-oublie", forgot, methods=["POST"]),
        Route("/reinitialiser/{token}", reset_form, methods=["GET"]),
        Route("/reinitialiser/{token}", reset, methods=["POST"]),
    ]
