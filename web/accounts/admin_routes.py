"""The administrators' settings page: run-time settings, administrators, the log (thin routes)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.accounts import instance
from web.accounts import users as accounts
from web.auth.current import CurrentUser, require_admin
from web.auth.forms import field, redirect
from web.config import Settings, SettingsError
from web.i18n import N_, gettext_for
from web.live_access import recheck, user_tag
from web.templating import render

PAGE = "/admin/reglages"

NOTICES = {
    "reglages": N_("Réglages enregistrés."),
    "inchange": N_("Aucun réglage n'a changé."),
    "nomme": N_("La personne est maintenant administratrice de l'instance."),
    "retire": N_("Le rôle d'administrateur a été retiré."),
}

# How a line of the log reads: the action, and for settings the setting's name.
ACTIONS = {
    "setting": N_("Réglage modifié"),
    "role": N_("Rôle modifié"),
    "registration": N_("Inscription examinée"),
    "status": N_("Compte activé ou désactivé"),
    "account": N_("Compte créé"),
}
SETTING_NAMES = {
    "signup_domains": N_("Domaines autorisés à s'inscrire"),
    "signup_open": N_("Inscriptions ouvertes"),
}
VALUES = {
    "true": N_("oui"),
    "false": N_("non"),
    "admin": N_("administrateur"),
    "agent": N_("agent"),
    "active": N_("actif"),
    "deactivated": N_("désactivé"),
    "accepted": N_("acceptée"),
    "refused": N_("refusée"),
    "": N_("(aucun)"),
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def settings_page(
    request: Request,
    *,
    error: str = "",
    status: int = 200,
    domains_text: str | None = None,
) -> Response:
    admin = require_admin(request)
    engine = request.app.state.engine
    t = gettext_for(request).gettext
    now = await instance.current(engine, _settings(request))
    key = request.query_params.get("avis", "")
    entries = await instance.recent(engine)

    def value(entry: instance.AuditEntry, raw: str) -> str:
        if entry.action == "setting" and entry.subject == "signup_domains":
            return raw.replace(",", ", ") or t(VALUES[""])
        return t(VALUES[raw]) if raw in VALUES else raw

    lines = [
        {
            "at": e.at,
            "actor": e.actor_name,
            "action": t(ACTIONS.get(e.action, e.action)),
            "subject": t(SETTING_NAMES[e.subject]) if e.subject in SETTING_NAMES else e.subject,
            "before": value(e, e.before) if e.before else "",
            "after": value(e, e.after),
        }
        for e in entries
    ]
    return render(
        request,
        "admin/reglages.html",
        {
            "me": admin,
            "current": now,
            "domains_text": "\n".join(now.signup_domains) if domains_text is None else domains_text,
            "environment_domains": ", ".join(_settings(request).signup_domains),
            "admins": await instance.admins(engine),
            "log": lines,
            "error": error,
            "notice": t(NOTICES[key]) if key in NOTICES else "",
            "pending_count": await accounts.count_pending(engine),
        },
        status_code=status,
    )


async def save_settings(request: Request) -> Response:
    admin = require_admin(request)
    form = await request.form()
    t = gettext_for(request).gettext
    raw = field(form, "signup_domains", 10_000)
    try:
        domains = instance.parse_domains(raw)
    except SettingsError:
        message = t(
            "Un domaine n'est pas valable : écrivez des noms comme « exemple.gouv.fr », un par "
            "ligne (%(most)d au plus)."
        ) % {"most": instance.MAX_DOMAINS}
        return await settings_page(request, error=message, status=400, domains_text=raw)
    wanted = instance.InstanceSettings(
        signup_domains=domains, signup_open=field(form, "signup_open", 8) == "oui"
    )
    changed = await instance.change(
        request.app.state.engine, _settings(request), admin.id, admin.display_name, wanted
    )
    return redirect(PAGE, "reglages" if changed else "inchange")


async def _log_role(admin: CurrentUser, request: Request, user: accounts.User, role: str) -> None:
    await instance.record(
        request.app.state.engine,
        admin.id,
        admin.display_name,
        "role",
        subject=user.email,
        before=user.role,
        after=role,
    )
    await recheck(request, user_tag(user.id), reason="instance role changed")


async def grant_admin(request: Request) -> Response:
    admin = require_admin(request)
    form = await request.form()
    t = gettext_for(request).gettext
    engine = request.app.state.engine
    user = await accounts.find_by_email(engine, accounts.normalise_email(field(form, "email", 320)))
    if user is None or user.status != "active" or user.role == "guest":
        return await settings_page(
            request,
            error=t("Aucun compte actif d'agent n'a cette adresse."),
            status=400,
        )
    if user.role == "admin":
        return redirect(PAGE, "nomme")
    await instance.set_role(engine, user.id, "admin")
    await _log_role(admin, request, user, "admin")
    return redirect(PAGE, "nomme")


async def revoke_admin(request: Request) -> Response:
    admin = require_admin(request)
    t = gettext_for(request).gettext
    try:
        user_id = int(request.path_params["user_id"])
    except ValueError:
        raise HTTPException(404) from None
    engine = request.app.state.engine
    user = await accounts.get_user(engine, user_id)
    if user is None or user.role != "admin":
        raise HTTPException(404, "Ce compte n'est pas administrateur.")
    if not await instance.set_role(engine, user.id, "agent"):
        return await settings_page(
            request, error=t("L'instance doit garder au moins un administrateur."), status=400
        )
    await _log_role(admin, request, user, "agent")
    # Someone who gave up the role themselves may no longer see this page.
    if user.id == admin.id:
        return redirect("/")
    return redirect(PAGE, "retire")


def instance_admin_routes() -> list[BaseRoute]:
    return [
        Route(PAGE, settings_page, methods=["GET"]),
        Route(PAGE, save_settings, methods=["POST"]),
        Route("/admin/administrateurs", grant_admin, methods=["POST"]),
        Route("/admin/administrateurs/{user_id}/retirer", revoke_admin, methods=["POST"]),
    ]
