"""Read the attributes of a document's nodes and marks, each with a fallback.

Any editor, guest editors included, can sync any attribute value (a heading `level="x"`, a
list `start` of 10^30, a `checked` of "false", an `href` with a newline in it). Exports and
version views read attributes only through these functions, so a value that makes no sense
falls back to the default instead of failing the request or leaking into the output.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

HEADING_LEVELS = (1, 6)
# CommonMark: an ordered list marker has at most nine digits.
LIST_START_MAX = 999_999_999
# Browsers clamp larger spans to these (HTML standard, "table processing model").
COLSPAN_MAX = 1000
ROWSPAN_MAX = 65534
LANGUAGE_MAX = 40
TEXT_MAX = 1000
URL_MAX = 4000

_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_DIGITS = re.compile(r"\s*[+-]?\d{1,15}\s*")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]+")
# Control, format (zero-width, bidi overrides), line and paragraph separators, private use.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def whole_number(value: object) -> int | None:
    """A whole number written as an int, an integral float or digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # NaN and infinities are not
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _clamped(value: object, low: int, high: int, fallback: int) -> int:
    number = whole_number(value)
    return fallback if number is None else min(max(number, low), high)


def heading_level(attrs: Mapping[str, Any]) -> int:
    """A heading's level, 1 to 6 (1 when missing or unreadable)."""
    low, high = HEADING_LEVELS
    return _clamped(attrs.get("level"), low, high, low)


def list_start(attrs: Mapping[str, Any], items: int = 1) -> int:
    """An ordered list's first number (1 when missing or unreadable), at least 0 and small
    enough that the last of its `items` numbers stays within `LIST_START_MAX`."""
    return _clamped(attrs.get("start"), 0, max(LIST_START_MAX + 1 - items, 0), 1)


def cell_span(attrs: Mapping[str, Any], name: str) -> int:
    """A table cell's `colspan` or `rowspan`, at least 1 and at most what browsers honour."""
    high = COLSPAN_MAX if name == "colspan" else ROWSPAN_MAX
    return _clamped(attrs.get(name), 1, high, 1)


def task_checked(attrs: Mapping[str, Any]) -> bool:
    """Whether a task item is done: only a true boolean (or the text "true") says so."""
    value = attrs.get("checked")
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def code_language(attrs: Mapping[str, Any]) -> str:
    """A code block's language as a short name ("python", "c++"), or "" when none is usable.

    Only the first word of letters, digits and `_+#.-` is kept, so the value can neither leave
    a Markdown fence's info string nor an HTML class attribute.
    """
    value = attrs.get("language")
    if not isinstance(value, str):
        return ""
    match = _LANGUAGE.match(value.strip())
    return match.group(0)[:LANGUAGE_MAX] if match else ""


def attribute_text(value: object, limit: int = TEXT_MAX) -> str:
    """An attribute meant as one line of text (alt, title): "" unless it is text or a number.

    Line breaks and invisible characters become spaces, runs of spaces collapse.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = "".join(" " if _invisible(c) or c.isspace() else c for c in str(value))
    return " ".join(text.split())[:limit]


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in _INVISIBLE


def _clean_url(value: str) -> bool:
    # Browsers drop tabs and newlines inside URLs ("java\nscript:" is "javascript:"), and a
    # backslash counts as a slash ("/\evil.example" is "//evil.example"): refuse them all.
    return not any(c == "\\" or (c != " " and (c.isspace() or _invisible(c))) for c in value)


def _allowed(value: str) -> bool:
    scheme = _SCHEME.match(value)
    if scheme is None:  # relative: a path, "#anchor" or "?query" on the instance
        return not value.startswith("//")
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        return value[scheme.end() :].startswith("//") and len(value) > scheme.end() + 2
    return name in _ALLOWED_SCHEMES


def safe_href(href: object) -> str | None:
    """A link or image address an export may keep: web, mail or relative; None otherwise.

    Refused: other schemes (javascript:, data:, vbscript:, whatever their case), addresses
    starting with "//", control and invisible characters anywhere, backslashes, and
    addresses that turn into one of those once HTML entities are decoded (as Markdown
    renderers do). Spaces at either end are dropped, as browsers do.
    """
    if not isinstance(href, str):
        return None
    value = href.strip(" ")
    if not value or len(value) > URL_MAX:
        return None
    decoded = html.unescape(value)
    if all(_clean_url(form) and _allowed(form) for form in (value, decoded)):
        return value
    return None


def mark_attr(marks: Mapping[str, Any], mark: str, name: str) -> object:
    """One attribute of a text mark (`mark_attr(marks, "link", "href")`), None when absent."""
    attrs = marks.get(mark)
    return attrs.get(name) if isinstance(attrs, Mapping) else None
