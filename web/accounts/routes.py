"""Registration, first administrator and the administrators' pages (thin routes)."""

from __future__ import annotations

from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.accounts import first_admin, instance, registration
from web.accounts import tokens as account_tokens
from web.accounts import users as accounts
from web.accounts.mails import (
    send_account_created_mail,
    send_address_taken_mail,
    send_approved_mail,
    send_confirm_mail,
    send_refused_mail,
)
from web.accounts.users import AccountError
from web.auth.current import CurrentUser, current_user, require_admin, start_session
from web.auth.forms import client_address, field, redirect
from web.auth.passwords import password_problem
from web.auth.throttle import RequestLimit
from web.i18n import N_, gettext_for, locale_of
from web.live_access import recheck, user_tag
from web.mail import Mailer
from web.templating import render

ACCOUNTS_PAGE = 200  # accounts listed at once; a search narrows a large instance down

# --- Self-registration --------------------------------------------------------------------


async def _instance(request: Request) -> instance.InstanceSettings:
    return await instance.current(request.app.state.engine, request.app.state.settings)


async def _signup_page(
    request: Request, *, error: str = "", values: dict[str, str] | None = None, status: int = 200
) -> Response:
    now = await _instance(request)
    return render(
        request,
        "auth/inscription.html",
        {
            "error": error,
            "values": values or {},
            "domains": now.signup_domains,
            "closed": not now.signup_open,
            "done": None,
        },
        status_code=status,
    )


async def signup_form(request: Request) -> Response:
    if current_user(request) is not None:
        return redirect("/")
    return await _signup_page(request)


async def signup(request: Request) -> Response:
    form = await request.form()
    t = gettext_for(request).gettext
    values = {
        "email": field(form, "email", 320),
        "display_name": field(form, "display_name", 300),
        "organisation": field(form, "organisation", 300),
    }
    password, again = field(form, "password", 1024), field(form, "password2", 1024)
    if password != again:
        return await _signup_page(
            request,
            error=t("Les deux mots de passe ne sont pas identiques."),
            values=values,
            status=400,
        )
    engine = request.app.state.engine
    now = await _instance(request)
    if not now.signup_open:
        return await _signup_page(request, values=values, status=403)
    # A few registrations per address and window: no flood of accounts.
    limit: RequestLimit = request.app.state.signup_limit
    address = client_address(request)
    if await limit.retry_after(address, address):
        return await _signup_page(
            request,
            error=t("Trop de demandes. Réessayez plus tard."),
            values=values,
            status=429,
        )
    await limit.record(address, address)
    try:
        outcome = await registration.register(
            engine,
            email=values["email"],
            display_name=values["display_name"],
            password=password,
            organisation=values["organisation"],
            domains=now.signup_domains,
            locale=locale_of(request),
        )
    except AccountError as exc:
        return await _signup_page(request, error=t(str(exc)), values=values, status=400)
    user = await accounts.get_user(engine, outcome.user_id)
    assert user is not None
    if outcome.address_taken:
        # Same page as for a new address; only the owner learns that someone tried.
        await send_address_taken_mail(request, user)
    elif outcome.status == "unconfirmed":
        token = await account_tokens.issue(engine, user.id, "confirm")
        await send_confirm_mail(request, user, token)
    return render(
        request,
        "auth/inscription.html",
        {
            "done": outcome.status,
            "email": user.email,
            "values": {},
            "error": "",
            "domains": (),
            "closed": False,
        },
    )


async def confirm_form(request: Request) -> Response:
    # A button, not an action on GET: mail scanners that open links must not use them up.
    token = request.path_params["token"]
    if await account_tokens.peek(request.app.state.engine, token, "confirm") is None:
        raise HTTPException(410, "Ce lien n'est plus valable : il a déjà servi ou il a expiré.")
    return render(request, "auth/confirmer.html", {"token": token})


async def confirm(request: Request) -> Response:
    engine = request.app.state.engine
    user_id = await account_tokens.consume(engine, request.path_params["token"], "confirm")
    if user_id is None or not await registration.confirm(engine, user_id):
        raise HTTPException(410, "Ce lien n'est plus valable : il a déjà servi ou il a expiré.")
    response = redirect("/", "confirme")
    await start_session(request, response, user_id)
    return response


# --- First administrator ------------------------------------------------------------------


async def first_admin_form(request: Request) -> Response:
    live = await first_admin.token_is_live(request.app.state.engine, request.path_params["token"])
    if not live:
        raise HTTPException(410, "Ce lien a déjà servi : l'instance a son premier administrateur.")
    return render(request, "auth/premier_admin.html", {"error": "", "values": {}})


async def first_admin_create(request: Request) -> Response:
    engine = request.app.state.engine
    token = request.path_params["token"]
    t = gettext_for(request).gettext
    form = await request.form()
    values = {"email": field(form, "email", 320), "display_name": field(form, "display_name", 300)}
    password, again = field(form, "password", 1024), field(form, "password2", 1024)
    problem = password_problem(password) or (
        None if password == again else N_("Les deux mots de passe ne sont pas identiques.")
    )
    if not problem:
        try:
            accounts.check_profile(
                accounts.normalise_email(values["email"]), values["display_name"]
            )
        except AccountError as exc:
            problem = str(exc)
    if problem:
        return render(
            request,
            "auth/premier_admin.html",
            {"error": t(problem), "values": values},
            status_code=400,
        )
    if not await first_admin.use_token(engine, token):
        raise HTTPException(410, "Ce lien a déjà servi : l'instance a son premier administrateur.")
    try:
        user_id = await accounts.create_user(
            engine,
            email=values["email"],
            display_name=values["display_name"],
            password=password,
            role="admin",
            locale=locale_of(request),
        )
    except AccountError as exc:
        return render(
            request,
            "auth/premier_admin.html",
            {"error": t(str(exc)), "values": values},
            status_code=400,
        )
    response = redirect("/admin/comptes")
    await start_session(request, response, user_id)
    return response


# --- Administrators' pages ----------------------------------------------------------------


async def accounts_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    admin = require_admin(request)
    search = request.query_params.get("q", "")[:200]
    shown = await accounts.list_users(
        request.app.state.engine,
        statuses=("active", "deactivated"),
        search=search,
        limit=ACCOUNTS_PAGE + 1,
    )
    notices = {
        "cree": N_("Compte créé : un courriel invite la personne à choisir son mot de passe."),
        "desactive": N_("Compte désactivé : ses sessions sont fermées."),
        "reactive": N_("Compte réactivé."),
        "role": N_("Rôle modifié."),
    }
    key = request.query_params.get("avis", "")
    t = gettext_for(request).gettext
    return render(
        request,
        "admin/comptes.html",
        {
            "accounts": shown[:ACCOUNTS_PAGE],
            "more": len(shown) > ACCOUNTS_PAGE,
            "search": search,
            "me": admin,
            "error": error,
            "notice": t(notices[key]) if key in notices else "",
            "pending_count": await accounts.count_pending(request.app.state.engine),
        },
        status_code=status,
    )


async def create_account(request: Request) -> Response:
    admin = require_admin(request)
    form = await request.form()
    t = gettext_for(request).gettext
    role = field(form, "role", 16)
    if role not in ("agent", "admin"):
        role = "agent"
    engine = request.app.state.engine
    try:
        user_id = await accounts.create_user(
            engine,
            email=field(form, "email", 320),
            display_name=field(form, "display_name", 300),
            organisation=field(form, "organisation", 300),
            role=role,
        )
    except AccountError as exc:
        return await accounts_page(request, error=t(str(exc)), status=400)
    user = await accounts.get_user(engine, user_id)
    assert user is not None
    await instance.record(
        engine, admin.id, admin.display_name, "account", subject=user.email, after=user.role
    )
    token = await account_tokens.issue(engine, user_id, "reset", lifetime=timedelta(days=3))
    await send_account_created_mail(request, user, token)
    return redirect("/admin/comptes", "cree")


async def _target(request: Request) -> accounts.User:
    try:
        user_id = int(request.path_params["user_id"])
    except ValueError:
        raise HTTPException(404) from None
    user = await accounts.get_user(request.app.state.engine, user_id)
    if user is None:
        raise HTTPException(404, "Ce compte n'existe pas.")
    return user


async def _log_status(
    request: Request, admin: CurrentUser, user: accounts.User, status: str
) -> None:
    if user.status != status:
        await instance.record(
            request.app.state.engine,
            admin.id,
            admin.display_name,
            "status",
            subject=user.email,
            before=user.status,
            after=status,
        )


async def deactivate(request: Request) -> Response:
    admin = require_admin(request)
    user = await _target(request)
    t = gettext_for(request).gettext
    if user.id == admin.id:
        return await accounts_page(
            request, error=t("Vous ne pouvez pas désactiver votre propre compte."), status=400
        )
    await accounts.set_status(
        request.app.state.sessions, user.id, "deactivated", reviewed_by=admin.id
    )
    await _log_status(request, admin, user, "deactivated")
    return redirect("/admin/comptes", "desactive")


async def reactivate(request: Request) -> Response:
    admin = require_admin(request)
    user = await _target(request)
    await accounts.set_status(request.app.state.sessions, user.id, "active", reviewed_by=admin.id)
    await _log_status(request, admin, user, "active")
    return redirect("/admin/comptes", "reactive")


async def change_role(request: Request) -> Response:
    admin = require_admin(request)
    user = await _target(request)
    form = await request.form()
    t = gettext_for(request).gettext
    role = field(form, "role", 16)
    if role not in ("agent", "admin"):
        return await accounts_page(request, error=t("Rôle inconnu."), status=400)
    engine = request.app.state.engine
    if not await instance.set_role(engine, user.id, role):
        return await accounts_page(
            request, error=t("L'instance doit garder au moins un administrateur."), status=400
        )
    if user.role != role:
        await instance.record(
            engine,
            admin.id,
            admin.display_name,
            "role",
            subject=user.email,
            before=user.role,
            after=role,
        )
    await recheck(request, user_tag(user.id), reason="instance role changed")
    return redirect("/admin/comptes", "role")


async def registrations_page(request: Request) -> Response:
    require_admin(request)
    pending = await accounts.list_users(request.app.state.engine, status="pending")
    notices = {
        "accepte": N_("Inscription acceptée : la personne est prévenue par courriel."),
        "refuse": N_("Inscription refusée : la personne est prévenue par courriel."),
        "deja": N_("Cette inscription a déjà été examinée par un autre administrateur."),
    }
    key = request.query_params.get("avis", "")
    t = gettext_for(request).gettext
    return render(
        request,
        "admin/inscriptions.html",
        {
            "pending": pending,
            "notice": t(notices[key]) if key in notices else "",
            "pending_count": len(pending),
        },
    )


async def decide_registration(request: Request) -> Response:
    admin = require_admin(request)
    user = await _target(request)
    engine = request.app.state.engine
    decision = request.path_params["decision"]
    if decision not in ("accepter", "refuser"):
        raise HTTPException(404)
    if decision == "accepter":
        decided = await registration.approve(engine, user.id, admin.id)
        if decided is not None:
            await instance.record(
                engine,
                admin.id,
                admin.display_name,
                "registration",
                subject=user.email,
                after="accepted",
            )
            await send_approved_mail(request, decided)
            return redirect("/admin/inscriptions", "accepte")
    else:
        decided = await registration.refuse(engine, user.id, admin.id)
        if decided is not None:
            await instance.record(
                engine,
                admin.id,
                admin.display_name,
                "registration",
                subject=user.email,
                after="refused",
            )
            await send_refused_mail(request, decided)
            return redirect("/admin/inscriptions", "refuse")
    return redirect("/admin/inscriptions", "deja")


async def outbox_page(request: Request) -> Response:
    require_admin(request)
    mailer: Mailer = request.app.state.mailer
    return render(
        request,
        "admin/courriels.html",
        {
            "mails": await mailer.recent(),
            "smtp": mailer.smtp is not None,
            "pending_count": await accounts.count_pending(request.app.state.engine),
        },
    )


def account_admin_routes() -> list[BaseRoute]:
    return [
        Route("/inscription", signup_form, methods=["GET"]),
        Route("/inscription", signup, methods=["POST"]),
        Route("/inscription/confirmer/{token}", confirm_form, methods=["GET"]),
        Route("/inscription/confirmer/{token}", confirm, methods=["POST"]),
        Route("/premier-admin/{token}", first_admin_form, methods=["GET"]),
        Route("/premier-admin/{token}", first_admin_create, methods=["POST"]),
        Route("/admin/comptes", accounts_page, methods=["GET"]),
        Route("/admin/comptes", create_account, methods=["POST"]),
        Route("/admin/comptes/{user_id}/desactiver", deactivate, methods=["POST"]),
        Route("/admin/comptes/{user_id}/reactiver", reactivate, methods=["POST"]),
        Route("/admin/comptes/{user_id}/role", change_role, methods=["POST"]),
        Route("/admin/inscriptions", registrations_page, methods=["GET"]),
        Route(
            "/admin/inscriptions/{user_id}/{decision:str}",
            decide_registration,
            methods=["POST"],
        ),
        Route("/admin/courriels", outbox_page, methods=["GET"]),
    ]
