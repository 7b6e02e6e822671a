"""Invitation mails, and opening a session from an invitation link (outsiders' guest accounts)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.current import CurrentUser, start_session
from web.config import Settings
from web.i18n import gettext_for
from web.spaces import services
from web.spaces.endpoints import engine_of, handles_errors, see_other
from web.spaces.services import Invitation, Space
from web.templating import render


def base_url(request: Request) -> str:
    """Where links in mails and pages point: `Settings.public_base_url`, never the Host."""
    settings: Settings = request.app.state.settings
    return settings.public_base_url


async def send_invitation(
    request: Request, inviter: CurrentUser, space: Space, email: str, invitation: Invitation
) -> None:
    """Mail the invited person: a link that opens a session (outsiders) or the space."""
    mailer = getattr(request.app.state, "mailer", None)
    if mailer is None:
        return
    t = gettext_for(request).gettext
    base = base_url(request)
    if invitation.token is not None:
        link = f"{base}/invitation/{invitation.token}"
        body = t(
            "Bonjour,\n\n%(inviter)s vous invite dans l'espace « %(space)s » sur Atelier.\n"
            "Ouvrez ce lien pour y entrer (valable 14 jours, une seule fois) :\n%(link)s\n"
        )
    else:
        link = f"{base}/espaces/{space.slug}"
        body = t(
            "Bonjour,\n\n%(inviter)s vous a ajouté à l'espace « %(space)s » sur Atelier :\n"
            "%(link)s\n"
        )
    values = {"inviter": inviter.display_name, "space": space.name, "link": link}
    subject = t("Atelier : invitation dans un espace")
    await mailer.send(email.strip().lower(), subject, body % values)


@handles_errors
async def invitation_form(request: Request) -> Response:
    token = str(request.path_params["token"])[:200]
    # A used or expired invitation says so at once, not after the button.
    await services.check_invitation(engine_of(request), token)
    return render(request, "spaces/invitation.html", {"token": token})


@handles_errors
async def accept_invitation(request: Request) -> Response:
    token = str(request.path_params["token"])[:200]
    user_id, slug = await services.accept_invitation(engine_of(request), token)
    response = see_other(f"/espaces/{slug}")
    await start_session(request, response, user_id)
    return response


def invitation_routes() -> list[BaseRoute]:
    return [
        Route("/invitation/{token}", invitation_form, methods=["GET"]),
        Route("/invitation/{token}", accept_invitation, methods=["POST"]),
    ]
