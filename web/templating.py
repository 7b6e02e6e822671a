"""Jinja2 templates (web/templates), autoescaped, with per-request language and helpers.

Globals every template can use (the request is in the context of a `TemplateResponse`):
`_` / `gettext` / `ngettext` (translated into the request's language; `{% trans %}` works
too), `csrf_input()` (the hidden field every form needs), `csrf_token()`, `current_user` (a
`CurrentUser` or None), `locale`, `theme` (web/theme.py), `static_url(path)`; the components
of web/templates/_components.html. Filters: `{{ when|local_time }}` (date and time),
`{{ when|local_date }}`, `{{ when|local_clock }}` (hour only), in the signed-in person's time
zone (web/local_time.py; Europe/Paris for everyone else), never in UTC.

Usage in a route: `return render(request, "auth/connexion.html", {"error": ...})`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from web.auth.csrf import FIELD_NAME, csrf_token
from web.auth.current import current_user as _current_user
from web.i18n import LOCALE_NAMES, LOCALES, locale_of, translations
from web.local_time import local_time
from web.theme import NEUTRAL, THEMES

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _request(context: Mapping[str, Any]) -> Request:
    request = context.get("request")
    if not isinstance(request, Request):
        raise RuntimeError("templates are rendered with the request in the context")
    return request


@jinja2.pass_context
def _gettext(context: Mapping[str, Any], message: str) -> str:
    return translations(locale_of(_request(context))).gettext(message)


@jinja2.pass_context
def _ngettext(context: Mapping[str, Any], singular: str, plural: str, n: int) -> str:
    return translations(locale_of(_request(context))).ngettext(singular, plural, n)


@jinja2.pass_context
def _csrf_input(context: Mapping[str, Any]) -> Markup:
    token = csrf_token(_request(context))
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD_NAME, token)


@jinja2.pass_context
def _csrf_token(context: Mapping[str, Any]) -> str:
    return csrf_token(_request(context))


def _viewer_zone(context: Mapping[str, Any]) -> str | None:
    user = _current_user(_request(context))
    return None if user is None else user.time_zone


def _when(part: str) -> Any:
    @jinja2.pass_context
    def show(context: Mapping[str, Any], moment: datetime | None, zone: str | None = None) -> str:
        locale = locale_of(_request(context))
        return local_time(moment, zone or _viewer_zone(context), locale, part)

    return show


def static_url(path: str) -> str:
    """URL of a file under web/static (`static_url('css/atelier.css')`)."""
    return "/static/" + path.lstrip("/")


def make_templates() -> Jinja2Templates:
    """The template environment (one per app)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # newstyle: `_("Bonjour %(nom)s", nom=x)` formats and escapes like the rest of Jinja.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    env.globals.update(
        csrf_input=_csrf_input,
        csrf_token=_csrf_token,
        static_url=static_url,
        locales=LOCALES,
        locale_names=LOCALE_NAMES,
    )
    env.filters.update(
        local_time=_when("datetime"), local_date=_when("date"), local_clock=_when("time")
    )
    templates = Jinja2Templates(env=env, context_processors=[_request_globals])
    return templates


def _request_globals(request: Request) -> dict[str, Any]:
    theme = getattr(request.app.state, "theme", THEMES[NEUTRAL])
    return {"current_user": _current_user(request), "locale": locale_of(request), "theme": theme}


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a template for a request (the app's environment, from `app.state.templates`)."""
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status_code
    )
    assert isinstance(response, HTMLResponse)
    return response
