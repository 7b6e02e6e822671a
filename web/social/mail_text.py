"""Mails of notifications, sans I/O: the subject, text and HTML of one person's batch or
digest, in their language, and the signed one-click unsubscribe token (RFC 8058)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from web.i18n import N_, translations

UNSUBSCRIBE_SALT = "atelier.notifications-unsubscribe.v1"
UNSUBSCRIBE_PATH = "/notifications/desabonnement"

REASONS = {
    "mention": N_("%(actor)s vous a mentionné"),
    "reply": N_("%(actor)s a répondu dans un fil où vous écrivez"),
    "comment": N_("%(actor)s a commenté"),
}


@dataclass(frozen=True)
class MailLine:
    """One notification as a mail lists it, under its item."""

    item_title: str
    item_url: str
    reason: str
    actor: str
    excerpt: str


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def unsubscribe_token(secret: str, user_id: int, space_id: int) -> str:
    """Signed: who, and which space (0: every space)."""
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps([user_id, space_id])


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, int] | None:
    try:
        value = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31 for v in value)
    ):
        return None
    return int(value[0]), int(value[1])


def compose(
    lines: Sequence[MailLine],
    *,
    locale: str,
    digest: bool,
    base_url: str,
    unsubscribe_url: str,
    space_name: str | None,
) -> Composed:
    """The mail of `lines` (grouped by item, in their order) for one person."""
    t = translations(locale)
    count = len(lines)
    if digest:
        subject = t.ngettext(
            "Atelier : votre résumé du jour (%(count)d notification)",
            "Atelier : votre résumé du jour (%(count)d notifications)",
            count,
        ) % {"count": count}
    else:
        subject = t.ngettext(
            "Atelier : %(count)d nouvelle notification",
            "Atelier : %(count)d nouvelles notifications",
            count,
        ) % {"count": count}
    groups: dict[tuple[str, str], list[MailLine]] = {}
    for line in lines:
        groups.setdefault((line.item_title, line.item_url), []).append(line)
    text_parts: list[str] = []
    html_parts: list[str] = []
    for (title, url), members in groups.items():
        link = base_url + url
        text_parts.append(f"{title}\n{link}")
        items = []
        for line in members:
            said = t.gettext(REASONS[line.reason]) % {"actor": line.actor}
            text_parts.append(f"  - {said} : {line.excerpt}" if line.excerpt else f"  - {said}")
            items.append(
                f"<li>{html.escape(said)}"
                + (f" : <q>{html.escape(line.excerpt)}</q>" if line.excerpt else "")
                + "</li>"
            )
        text_parts.append("")
        html_parts.append(
            f'<h2><a href="{html.escape(link, quote=True)}">{html.escape(title)}</a></h2>'
            f"<ul>{''.join(items)}</ul>"
        )
    if space_name is None:
        stop = t.gettext("Ne plus recevoir ces courriels :")
    else:
        stop = t.gettext("Ne plus recevoir les courriels de l'espace %(space)s :") % {
            "space": space_name
        }
    text = "\n".join(text_parts) + f"\n--\n{stop} {unsubscribe_url}\n"
    body_html = (
        f'<!doctype html><html lang="{locale}"><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title><body>{''.join(html_parts)}"
        f'<hr><p>{html.escape(stop)} <a href="{html.escape(unsubscribe_url, quote=True)}">'
        f"{html.escape(t.gettext('se désabonner'))}</a></p></body></html>"
    )
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return Composed(subject, text, body_html, headers)
