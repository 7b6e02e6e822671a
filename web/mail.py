"""Outgoing mail: every message goes to the `outbox` table, then to SMTP when configured.

With no SMTP server the outbox is the delivery: instance admins read it at /admin/courriels,
so a fresh install works end to end. A mail delivered over SMTP keeps only its envelope there.
The log only says that a mail was queued and to whom — never its body, which may hold a secret
link.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.auth.sessions import now_utc, utc
from web.config import Settings
from web.schema import outbox

log = logging.getLogger("atelier.mail")


@dataclass(frozen=True)
class OutboxMail:
    id: int
    to_address: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    error: str
    html: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SMTPConfig:
    host: str
    port: int
    security: str  # starttls | tls | none
    user: str
    password: str
    sender: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SMTPConfig | None:
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            sender=settings.mail_from,
        )


def _send_smtp(
    config: SMTPConfig,
    to_address: str,
    subject: str,
    body: str,
    html: str = "",
    headers: Mapping[str, str] | None = None,
) -> None:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=20, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=20)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=context)
        if config.user:
            smtp.login(config.user, config.password)
        smtp.send_message(message)


async def queue_mail(
    connection: AsyncConnection,
    to_address: str,
    subject: str,
    body: str,
    html: str = "",
    headers: Mapping[str, str] | None = None,
) -> int:
    """Put a mail in the outbox inside the caller's transaction; its id (`Mailer.deliver`
    sends it once committed)."""
    result = await connection.execute(
        outbox.insert().values(
            to_address=to_address,
            subject=subject[:300],
            body=body,
            html=html,
            headers=dict(headers) if headers else None,
            created_at=now_utc(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class Mailer:
    """Queues mails in the outbox and delivers them over SMTP when one is configured."""

    def __init__(self, engine: AsyncEngine, smtp: SMTPConfig | None) -> None:
        self.engine = engine
        self.smtp = smtp

    async def send(
        self,
        to_address: str,
        subject: str,
        body: str,
        *,
        html: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Queue a mail (and deliver it now when SMTP is configured); return its outbox id."""
        async with self.engine.begin() as connection:
            mail_id = await queue_mail(connection, to_address, subject, body, html, headers)
        await self.deliver(mail_id, to_address, subject, body, html, headers)
        return mail_id

    async def deliver(
        self,
        mail_id: int,
        to_address: str,
        subject: str,
        body: str,
        html: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a mail queued by `queue_mail` over SMTP, when one is configured."""
        if self.smtp is None:
            log.info(
                "mail #%d to %s queued in the outbox (no SMTP server configured)",
                mail_id,
                to_address,
            )
            return
        try:
            await asyncio.to_thread(_send_smtp, self.smtp, to_address, subject, body, html, headers)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("mail #%d to %s not sent: %s", mail_id, to_address, error)
            values: dict[str, object] = {"error": error}
        else:
            log.info("mail #%d sent to %s", mail_id, to_address)
            # Delivered: the body may hold someone's personal link, so the outbox forgets it.
            values = {"sent_at": now_utc(), "error": "", "body": "", "html": ""}
        async with self.engine.begin() as connection:
            await connection.execute(update(outbox).where(outbox.c.id == mail_id).values(**values))

    async def recent(self, limit: int = 200) -> list[OutboxMail]:
        """The latest mails, newest first (the admins' outbox page)."""
        query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            OutboxMail(
                id=row.id,
                to_address=row.to_address,
                subject=row.subject,
                body=row.body,
                created_at=utc(row.created_at),
                sent_at=None if row.sent_at is None else utc(row.sent_at),
                error=row.error,
                html=row.html or "",
                headers=dict(row.headers or {}),
            )
            for row in rows
        ]
