"""Mails the app sent: its outbox, newest first, and the links in them."""

from __future__ import annotations

import re

from starlette.applications import Starlette

from web.mail import Mailer, OutboxMail


async def outbox(app: Starlette) -> list[OutboxMail]:
    """The mails queued so far, newest first."""
    mailer: Mailer = app.state.mailer
    return await mailer.recent()


def link_in(mail: OutboxMail, path: str) -> str:
    """The path of the first link to `path...` in a mail."""
    match = re.search(re.escape(path) + r"[A-Za-z0-9_\-]+", mail.body)
    assert match, f"no {path} link in: {mail.body}"
    return match.group(0)
