"""Form field checks shared by the spaces services: clear messages, in French, for users."""

from __future__ import annotations

import re
import unicodedata

import nh3

from web.spaces.description import markdown_html
from web.spaces.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
DESCRIPTION_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "a", "ul", "ol", "li", "code"}
DESCRIPTION_SCHEMES = {"http", "https", "mailto"}


def one_line(value: object, field: str, *, max_length: int = 200, required: bool = True) -> str:
    """A trimmed single-line text (names, titles, labels)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} : texte attendu.")
    text = " ".join(_CONTROL.sub("", value).split())
    if required and not text:
        raise InvalidInput(f"{field} : ce champ est obligatoire.")
    if len(text) > max_length:
        raise InvalidInput(f"{field} : {max_length} caractères au plus.")
    return text


def description_html(value: object, *, max_length: int = 5000) -> str:
    """A description: Markdown's bold, italic, lists and links (or a little HTML), as HTML
    sanitised by nh3 (scripts, styles, events and other link schemes go)."""
    if not isinstance(value, str):
        raise InvalidInput("Description : texte attendu.")
    text = _CONTROL.sub("", value).strip()
    if len(text) > max_length:
        raise InvalidInput(f"Description : {max_length} caractères au plus.")
    return nh3.clean(
        markdown_html(text),
        tags=DESCRIPTION_TAGS,
        url_schemes=DESCRIPTION_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def search_text(value: str, *, max_length: int = 200) -> str:
    """A search box's text: control characters (NUL breaks PostgreSQL) dropped, trimmed."""
    return " ".join(_CONTROL.sub("", value).split())[:max_length]


def slug_or_none(value: str) -> str | None:
    """A slug as found in a URL, or None when it cannot be one."""
    return value if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", value) else None


def choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(f"{field} : choisissez parmi {', '.join(choices)}.")
    return value


def email_address(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Adresse électronique : texte attendu.")
    address = value.strip().lower()
    if len(address) > 320 or _CONTROL.search(address) or not _EMAIL.match(address):
        raise InvalidInput("Adresse électronique : adresse invalide (exemple : nom@exemple.fr).")
    return address


def slugify(name: str, *, max_length: int = 60) -> str:
    """A URL-safe slug from a name: accents folded, lowercase, dashes."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:max_length].strip("-")
    return slug or "espace"
