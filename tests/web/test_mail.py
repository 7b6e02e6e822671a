"""Mail over SMTP (a capturing server on loopback), and the outbox when SMTP fails or is absent."""

from __future__ import annotations

import asyncio
import email
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import Message

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import outbox
from tests.support.people import PASSWORD
from tests.support.ports import free_port
from tests.support.web_app import BASE_URL
from web.accounts.users import create_user


class CapturingSMTP:
    """The smallest SMTP server that accepts mail and keeps it (what a user never runs)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def start(self) -> CapturingSMTP:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        return self

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 capture ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 capture\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = bytearray()
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.messages.append(email.message_from_bytes(bytes(data)))
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:  # MAIL, RCPT, RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def smtp() -> AsyncIterator[CapturingSMTP]:
    server = await CapturingSMTP().start()
    yield server
    await server.close()


async def _ask_reset(app: Starlette) -> None:
    await create_user(
        app.state.engine, email="rose@agri.gouv.fr", display_name="Rose", password=PASSWORD
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        page = await post_form(client, "/mot-de-passe-oublie", {"email": "rose@agri.gouv.fr"})
        assert page.status_code == 200


async def test_with_smtp_configured_the_mail_is_delivered(
    smtp: CapturingSMTP, make_app: Callable[..., Awaitable[Starlette]]
) -> None:
    app = await make_app(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from="atelier@ministere.gouv.fr",
    )
    await _ask_reset(app)
    (message,) = smtp.messages
    assert message["To"] == "rose@agri.gouv.fr"
    assert message["From"] == "atelier@ministere.gouv.fr"
    assert message["Subject"] == "Atelier : changer votre mot de passe"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes) and b"http://atelier.test/reinitialiser/" in body
    (kept,) = await outbox(app)
    assert kept.sent_at is not None and kept.error == ""
    assert kept.body == ""  # delivered: admins cannot read someone's reset link


async def test_when_smtp_is_down_the_mail_stays_in_the_outbox_with_the_error(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none")
    await _ask_reset(app)
    (kept,) = await outbox(app)
    assert kept.sent_at is None and "Connection" in kept.error


async def test_without_smtp_the_log_says_a_mail_was_queued_but_not_its_link(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="atelier.mail"):
        await _ask_reset(app)
    (kept,) = await outbox(app)
    assert "/reinitialiser/" in kept.body
    assert "rose@agri.gouv.fr" in caplog.text and "outbox" in caplog.text
    assert "/reinitialiser/" not in caplog.text
