"""Languages: French source strings, English catalogue, the visitor's choice of language.

Catalogues are the `.po` files under `web/locale/<lang>/LC_MESSAGES/` (every `*.po` there is
merged, so each area of the app may keep its own file); they are compiled in memory with
Babel when first used, so no binary `.mo` is committed or built.

The language of a request: the `atelier_langue` cookie (set by the language switch), else the
signed-in user's saved choice (the switch saves it too), else French.
"""

from __future__ import annotations

import functools
import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from web.auth.current import read_cookie

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LOCALE = "fr"
LOCALES = ("fr", "en")
LOCALE_NAMES = {"fr": "Français", "en": "English"}
COOKIE_NAME = "atelier_langue"


def N_(message: str) -> str:
    """Mark a French source string for the catalogue; it is translated where it is shown."""
    return message


def normalise(locale: str | None) -> str:
    """A supported locale code for any input (unknown → French)."""
    code = (locale or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LOCALES else DEFAULT_LOCALE


def catalog_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


def load_catalog(locale: str) -> Catalog:
    """Every `.po` file of a locale merged into one Babel catalogue."""
    merged = Catalog(locale=locale)
    for path in catalog_files(locale):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        for message in catalog:
            if message.id and message.string:
                merged[message.id] = message
    return merged


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled translations of a locale (French: the source strings themselves)."""
    locale = normalise(locale)
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    buffer = BytesIO()
    write_mo(buffer, load_catalog(locale))
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def locale_of(connection: HTTPConnection) -> str:
    """The language of a request, as set by `LocaleMiddleware`."""
    return str(connection.scope.get("state", {}).get("locale", DEFAULT_LOCALE))


def gettext_for(connection: HTTPConnection) -> gettext.NullTranslations:
    """Translations for a request: `gettext_for(request).gettext("Texte")` in routes."""
    return translations(locale_of(connection))


def _(connection: HTTPConnection, message: str) -> str:
    """Translate one French source string for a request."""
    return gettext_for(connection).gettext(message)


class LocaleMiddleware:
    """Sets `scope["state"]["locale"]` (after `CurrentUserMiddleware`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            user = state.get("user")
            cookie = read_cookie(scope, COOKIE_NAME)
            if cookie:
                state["locale"] = normalise(cookie)
            elif user is not None:
                state["locale"] = normalise(getattr(user, "locale", None))
            else:
                state["locale"] = DEFAULT_LOCALE
        await self.app(scope, receive, send)
