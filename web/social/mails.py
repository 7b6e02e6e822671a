"""Sending notification mails: at most one per person per batching window (however many
notifications, whichever worker made them), a daily digest, or none.

The database is the source of truth: each notification to mail schedules a `pending_mails`
row (one per person and kind, made only if none is there, due at the end of the window or at
the digest hour). Any worker's sender claims a due row by deleting it — only one delete
succeeds — and, in the same transaction, marks the person's notifications mailed and puts
the mail in the outbox. A periodic task runs the sender (`every` seconds, a setting); tests
call `run_once(now)` with the time they want.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from web.mail import Mailer, queue_mail
from web.schema import users
from web.social.items import Item, ItemKinds
from web.social.mail_text import (
    UNSUBSCRIBE_PATH,
    MailLine,
    compose,
    unsubscribe_token,
)
from web.social.model import insert_missing, names
from web.social.tables import mail_settings, notifications, pending_mails
from web.spaces.access import utcnow
from web.spaces.tables import spaces

log = logging.getLogger("atelier.social")
BATCH_PER_RUN = 200


class NotificationMails:
    """The sender of notification mails (one per app; safe with many workers)."""

    def __init__(
        self,
        engine: AsyncEngine,
        mailer: Mailer,
        kinds: ItemKinds,
        secret: str,
        base_url: str,
        *,
        every: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        self.kinds = kinds
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.every = every
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def unsubscribe_url(self, user_id: int, space_id: int) -> str:
        token = unsubscribe_token(self.secret, user_id, space_id)
        return f"{self.base_url}{UNSUBSCRIBE_PATH}?jeton={token}"

    async def run_once(self, now: datetime | None = None) -> int:
        """Send every mail due at `now`; how many were queued."""
        now = now or self.clock()
        async with self.engine.connect() as conn:
            due = (
                await conn.execute(
                    select(pending_mails.c.user_id, pending_mails.c.kind)
                    .where(pending_mails.c.due_at <= now)
                    .order_by(pending_mails.c.due_at)
                    .limit(BATCH_PER_RUN)
                )
            ).all()
        sent = 0
        for user_id, kind in due:
            try:
                sent += await self._send(user_id, kind, now)
            except Exception:
                log.warning("could not mail notifications to user %s", user_id, exc_info=True)
        return sent

    async def _send(self, user_id: int, kind: str, now: datetime) -> int:
        mode = "immediate" if kind == "batch" else "daily"
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                delete(pending_mails).where(
                    pending_mails.c.user_id == user_id,
                    pending_mails.c.kind == kind,
                    pending_mails.c.due_at <= now,
                )
            )
            if not claimed.rowcount:
                return 0  # another worker took it
            who = (
                await conn.execute(
                    select(users.c.email, users.c.locale, users.c.status).where(
                        users.c.id == user_id
                    )
                )
            ).first()
            rows = (
                await conn.execute(
                    select(notifications)
                    .where(
                        notifications.c.user_id == user_id,
                        notifications.c.mail == mode,
                        notifications.c.mailed_at.is_(None),
                        notifications.c.read_at.is_(None),
                    )
                    .order_by(notifications.c.id)
                )
            ).all()
            if not rows:
                return 0
            await conn.execute(
                update(notifications)
                .where(notifications.c.id.in_([r.id for r in rows]))
                .values(mailed_at=now)
            )
            if who is None or who.status != "active" or not who.email:
                return 0
            items: dict[tuple[str, int], Item | None] = {}
            for row in rows:
                key = (row.item_kind, row.item_id)
                if key not in items:
                    items[key] = await self.kinds.open_as(conn, user_id, *key, now)
            readable = [r for r in rows if items[(r.item_kind, r.item_id)] is not None]
            if not readable:
                return 0
            known = await names(conn, [r.actor_id for r in readable])
            lines = []
            for row in readable:
                item = items[(row.item_kind, row.item_id)]
                assert item is not None
                url = item.url + (f"#commentaire-{row.comment_id}" if row.comment_id else "")
                actor = known.get(row.actor_id, "") if row.actor_id else ""
                lines.append(MailLine(item.title, url, row.reason, actor, row.excerpt))
            space_ids = {r.space_id for r in readable}
            space_id = space_ids.pop() if len(space_ids) == 1 else 0
            space_name = None
            if space_id:
                space_name = (
                    await conn.execute(select(spaces.c.name).where(spaces.c.id == space_id))
                ).scalar()
            mail = compose(
                lines,
                locale=who.locale or "fr",
                digest=kind == "digest",
                base_url=self.base_url,
                unsubscribe_url=self.unsubscribe_url(user_id, space_id),
                space_name=space_name,
            )
            mail_id = await queue_mail(
                conn, who.email, mail.subject, mail.text, mail.html, mail.headers
            )
            address = who.email
        await self.mailer.deliver(
            mail_id, address, mail.subject, mail.text, mail.html, mail.headers
        )
        return 1

    async def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                try:
                    await self.run_once()
                except Exception:
                    log.warning("could not send notification mails", exc_info=True)

        self._task = asyncio.create_task(loop(), name="notification-mails")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def set_mail_mode(engine: AsyncEngine, user_id: int, space_id: int, mode: str) -> None:
    """The person's mail mode for a space (0: their default)."""
    async with engine.begin() as conn:
        if space_id == 0 and mode == "off":
            # One-click "no more mails": every space, whatever was chosen for each.
            await conn.execute(delete(mail_settings).where(mail_settings.c.user_id == user_id))
        if not await insert_missing(
            conn, mail_settings, {"user_id": user_id, "space_id": space_id, "mail": mode}
        ):
            await conn.execute(
                update(mail_settings)
                .where(mail_settings.c.user_id == user_id, mail_settings.c.space_id == space_id)
                .values(mail=mode)
            )


async def mail_modes(engine: AsyncEngine, user_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(mail_settings.c.space_id, mail_settings.c.mail).where(
                    mail_settings.c.user_id == user_id
                )
            )
        ).all()
    chosen = {r.space_id: r.mail for r in rows}
    return {
        "default": chosen.pop(0, "immediate"),
        "spaces": {str(k): v for k, v in sorted(chosen.items())},
    }
