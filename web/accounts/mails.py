"""The mails accounts send, in the recipient's language (French source strings)."""

from __future__ import annotations

from starlette.requests import Request

from web.accounts.users import User
from web.config import Settings
from web.i18n import N_, translations
from web.mail import Mailer


def base_url(request: Request) -> str:
    """Where links in mails point: `Settings.public_base_url`, never the request's Host."""
    settings: Settings = request.app.state.settings
    return settings.public_base_url


async def _send(request: Request, user: User, subject: str, body: str, **values: str) -> int:
    t = translations(user.locale).gettext
    mailer: Mailer = request.app.state.mailer
    values = {"name": user.display_name, **values}
    return await mailer.send(user.email, t(subject), t(body) % values)


async def send_reset_mail(request: Request, user: User, token: str) -> int:
    return await _send(
        request,
        user,
        N_("Atelier : changer votre mot de passe"),
        N_(
            "Bonjour %(name)s,\n\n"
            "Pour choisir un nouveau mot de passe, ouvrez ce lien (valable une heure, une seule "
            "fois) :\n%(link)s\n\n"
            "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste le même.\n"
        ),
        link=f"{base_url(request)}/reinitialiser/{token}",
    )


async def send_confirm_mail(request: Request, user: User, token: str) -> int:
    return await _send(
        request,
        user,
        N_("Atelier : confirmez votre adresse"),
        N_(
            "Bonjour %(name)s,\n\n"
            "Pour activer votre compte Atelier, ouvrez ce lien (valable trois jours) :\n"
            "%(link)s\n\n"
            "Si vous n'avez pas demandé de compte, ignorez ce message.\n"
        ),
        link=f"{base_url(request)}/inscription/confirmer/{token}",
    )


async def send_address_taken_mail(request: Request, user: User) -> int:
    """Someone tried to register with the address of an existing account: tell its owner."""
    base = base_url(request)
    return await _send(
        request,
        user,
        N_("Atelier : une inscription avec votre adresse"),
        N_(
            "Bonjour %(name)s,\n\n"
            "Quelqu'un vient de demander un compte Atelier avec votre adresse, qui a déjà le "
            "sien. Si c'était vous, connectez-vous :\n%(signin)s\n\n"
            "Mot de passe oublié ? Choisissez-en un nouveau :\n%(reset)s\n\n"
            "Si ce n'était pas vous, ignorez ce message : votre compte ne change pas.\n"
        ),
        signin=f"{base}/connexion",
        reset=f"{base}/mot-de-passe-oublie",
    )


async def send_approved_mail(request: Request, user: User) -> int:
    return await _send(
        request,
        user,
        N_("Atelier : votre inscription est acceptée"),
        N_(
            "Bonjour %(name)s,\n\n"
            "Un administrateur a accepté votre inscription. Vous pouvez vous connecter :\n"
            "%(link)s\n"
        ),
        link=f"{base_url(request)}/connexion",
    )


async def send_refused_mail(request: Request, user: User) -> int:
    return await _send(
        request,
        user,
        N_("Atelier : votre inscription n'a pas été acceptée"),
        N_(
            "Bonjour %(name)s,\n\n"
            "Un administrateur n'a pas accepté votre demande d'inscription à Atelier. "
            "Si vous pensez qu'il s'agit d'une erreur, adressez-vous à la personne qui vous a "
            "invité.\n"
        ),
    )


async def send_account_created_mail(request: Request, user: User, token: str) -> int:
    return await _send(
        request,
        user,
        N_("Atelier : un compte a été créé pour vous"),
        N_(
            "Bonjour %(name)s,\n\n"
            "Un administrateur vous a créé un compte Atelier. Choisissez votre mot de passe en "
            "ouvrant ce lien (valable trois jours) :\n%(link)s\n"
        ),
        link=f"{base_url(request)}/reinitialiser/{token}",
    )
