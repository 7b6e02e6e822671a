"""Small helpers shared by the account routes: form fields, client address, notices."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse

from web.i18n import N_, gettext_for

MAX_FIELD = 4096

# Notices shown after a redirect, by key: the URL never carries free text into a page.
NOTICES = {
    "deconnecte": N_("Vous êtes déconnecté."),
    "partout": N_("Vous êtes déconnecté de tous vos appareils."),
    "reinitialise": N_("Votre mot de passe a été changé. Connectez-vous avec le nouveau."),
    "confirme": N_("Votre adresse est confirmée. Bienvenue !"),
    "mot-de-passe": N_("Votre mot de passe a été changé."),
    "profil": N_("Votre profil est enregistré."),
}


def field(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    """A text field of a form ('' when absent or a file), cut to `limit` characters."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def notice(request: Request) -> str:
    """The translated notice named by `?avis=` ('' when none)."""
    text = NOTICES.get(request.query_params.get("avis", ""))
    return gettext_for(request).gettext(text) if text else ""


def redirect(path: str, avis: str | None = None) -> RedirectResponse:
    """A 303 redirect (after a POST), with an optional notice key."""
    if avis:
        path += ("&" if "?" in path else "?") + "avis=" + quote(avis)
    return RedirectResponse(path, status_code=303)
