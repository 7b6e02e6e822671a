"""Checks of the values a JSON request carries, with clear French messages (422).

Each function takes what the JSON gave (any type) and returns a typed value or raises
`TaskInvalid`; nothing here touches the database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from web.tasks.errors import TaskInvalid
from web.tasks.fractional import InvalidKey, check_key
from web.tasks.tables import LINK_KINDS
from web.tasks.workdays import FIRST_DAY, LAST_DAY

MAX_TITLE = 300
MAX_COLUMN_NAME = 100
MAX_LABEL_NAME = 50
MAX_ITEM_TEXT = 500
MAX_ESTIMATE_HOURS = 100_000
MAX_LAG_DAYS = 365
MAX_WIP_LIMIT = 1_000
MAX_IDS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_ITEM_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")


def body_fields(
    body: Any, allowed: Collection[str], required: Collection[str] = ()
) -> dict[str, Any]:
    """The JSON object of a request, with only known fields and every required one."""
    if not isinstance(body, dict):
        raise TaskInvalid("Requête illisible : un objet JSON est attendu.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise TaskInvalid("Champ inconnu : %(fields)s.", fields=", ".join(map(str, unknown)))
    missing = sorted(set(required) - set(body))
    if missing:
        raise TaskInvalid("Champ obligatoire absent : %(fields)s.", fields=", ".join(missing))
    return dict(body)


def text_line(value: Any, field: str, max_length: int, *, required: bool = True) -> str:
    """A trimmed single line of text."""
    if not isinstance(value, str):
        raise TaskInvalid("%(field)s : texte attendu.", field=field)
    text = " ".join(_CONTROL.sub("", value).split())
    if required and not text:
        raise TaskInvalid("%(field)s : ce champ est obligatoire.", field=field)
    if len(text) > max_length:
        raise TaskInvalid("%(field)s : %(max)d caractères au plus.", field=field, max=max_length)
    return text


def title(value: Any) -> str:
    return text_line(value, "Titre", MAX_TITLE)


def optional_date(value: Any, field: str) -> date | None:
    """A calendar date as "AAAA-MM-JJ", or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise TaskInvalid("%(field)s : date attendue au format AAAA-MM-JJ.", field=field)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise TaskInvalid("%(field)s : cette date n'existe pas.", field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise TaskInvalid(
            "%(field)s : date entre %(first)s et %(last)s.",
            field=field,
            first=FIRST_DAY.isoformat(),
            last=LAST_DAY.isoformat(),
        )
    return day


def date_order(start: date | None, due: date | None) -> None:
    if start is not None and due is not None and due < start:
        raise TaskInvalid("L'échéance ne peut pas précéder le début.")


def estimate(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TaskInvalid("Estimation : nombre d'heures attendu.")
    if not 0 <= value <= MAX_ESTIMATE_HOURS:
        raise TaskInvalid("Estimation : entre 0 et %(max)d heures.", max=MAX_ESTIMATE_HOURS)
    return round(float(value), 2)


def whole_number(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskInvalid("%(field)s : nombre entier attendu.", field=field)
    if not low <= value <= high:
        raise TaskInvalid("%(field)s : entre %(low)d et %(high)d.", field=field, low=low, high=high)
    return value


def progress(value: Any) -> int:
    return whole_number(value, "Avancement", 0, 100)


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise TaskInvalid("%(field)s : vrai ou faux attendu.", field=field)
    return value


def ident(value: Any, field: str) -> int:
    """The id of a row (tasks, columns, people...)."""
    return whole_number(value, field, 1, 2**31 - 1)


def optional_ident(value: Any, field: str) -> int | None:
    return None if value is None else ident(value, field)


def version(value: Any) -> int:
    return whole_number(value, "Version", 1, 2**31 - 1)


def id_list(value: Any, field: str) -> list[int]:
    """Distinct ids, in the order given."""
    if not isinstance(value, list):
        raise TaskInvalid("%(field)s : liste attendue.", field=field)
    if len(value) > MAX_IDS:
        raise TaskInvalid("%(field)s : %(max)d au plus.", field=field, max=MAX_IDS)
    return list(dict.fromkeys(ident(item, field) for item in value))


def colour(value: Any) -> str:
    if not isinstance(value, str) or not _COLOUR.fullmatch(value):
        raise TaskInvalid("Couleur : attendue sous la forme #rrvvbb.")
    return value.lower()


def order_key(value: Any, field: str = "Position") -> str:
    try:
        return check_key(value)
    except InvalidKey:
        raise TaskInvalid("%(field)s : clé d'ordre invalide.", field=field) from None


def link_kind(value: Any) -> str:
    if value not in LINK_KINDS:
        raise TaskInvalid("Type de lien : FS, SS, FF ou SF.")
    return str(value)


def lag(value: Any) -> int:
    return whole_number(value, "Décalage", -MAX_LAG_DAYS, MAX_LAG_DAYS)


def wip_limit(value: Any) -> int | None:
    return None if value is None else whole_number(value, "Limite", 1, MAX_WIP_LIMIT)


def item_ref(value: Any) -> str:
    """The id the page editor put on a checklist item."""
    if not isinstance(value, str) or not _ITEM_REF.fullmatch(value):
        raise TaskInvalid("Élément : identifiant de 1 à 64 lettres, chiffres, - ou _.")
    return value


def query_int(params: Mapping[str, str], name: str) -> int | None:
    """An optional id in a query string (a bad one is refused, not ignored)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise TaskInvalid("%(field)s : identifiant attendu.", field=name)
    return ident(int(raw), name)
