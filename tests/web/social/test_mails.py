"""Notification mails: one mail per person per batching window however many notifications
(whichever worker sends), a daily digest, none when off; French or English; text and HTML;
a one-click unsubscribe link (RFC 8058) that works without a session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from starlette.applications import Starlette

from tests.support.mails import outbox
from tests.support.social import SocialApi
from tests.support.spaces_world import World
from web.mail import OutboxMail
from web.schema import users
from web.social.mails import NotificationMails
from web.spaces.access import utcnow


def _sender(app: Starlette) -> NotificationMails:
    sender: NotificationMails = app.state.notification_mails
    return sender


async def _mails_to(app: Starlette, user_id: int) -> list[OutboxMail]:
    async with app.state.engine.connect() as conn:
        address = (await conn.execute(select(users.c.email).where(users.c.id == user_id))).scalar()
    return [m for m in await outbox(app) if m.to_address == address]


async def test_two_replies_make_one_mail_within_the_window_whichever_worker_sends(
    app: Starlette, world: World, api: dict[str, SocialApi]
) -> None:
    root = (await api["commenter"].comment("page", world.page.id, "<p>Fil</p>"))["comment"]
    await api["editor"].comment("page", world.page.id, "<p>Un</p>", thread_id=root["id"])
    await api["owner"].comment("page", world.page.id, "<p>Deux</p>", thread_id=root["id"])
    start = utcnow()
    assert await _sender(app).run_once(start + timedelta(seconds=60)) == 0
    # Two workers look at once, past the window: one mail.
    other = NotificationMails(
        app.state.engine,
        app.state.mailer,
        app.state.social.kinds,
        "k" * 40,
        "http://atelier.test",
        every=60,
    )
    later = start + timedelta(seconds=125)
    sent = await asyncio.gather(_sender(app).run_once(later), other.run_once(later))
    assert sum(sent) == 3  # the commenter, the editor, the page's author: one mail each
    mails = await _mails_to(app, world.people["commenter"].id)
    assert len(mails) == 1
    mail = mails[0]
    assert mail.subject == "Atelier : 2 nouvelles notifications"
    assert "Page partagée" in mail.body and "Un" in mail.body and "Deux" in mail.body
    assert "a répondu dans un fil où vous écrivez" in mail.body
    assert "<h2>" in mail.html and "Page partagée" in mail.html
    # A third reply: the next mail, a window later.
    await api["editor"].comment("page", world.page.id, "<p>Trois</p>", thread_id=root["id"])
    third = utcnow()
    assert await _sender(app).run_once(third + timedelta(seconds=60)) == 0
    assert await _sender(app).run_once(third + timedelta(seconds=125)) >= 1
    assert len(await _mails_to(app, world.people["commenter"].id)) == 2


async def test_the_unsubscribe_link_works_in_one_click_without_a_session(
    app: Starlette,
    world: World,
    api: dict[str, SocialApi],
    new_client: Callable[[], httpx.AsyncClient],
) -> None:
    engine = app.state.engine
    reader = world.people["reader"]
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == reader.id).values(locale="en"))
    mention = f'<span data-type="mention" data-id="{reader.id}">@r</span>'
    await api["editor"].comment("page", world.page.id, f"<p>{mention}</p>")
    assert await _sender(app).run_once(utcnow() + timedelta(seconds=125)) >= 1
    (mail,) = await _mails_to(app, reader.id)
    assert mail.subject == "Atelier: 1 new notification"
    assert "mentioned you" in mail.body
    link = mail.headers["List-Unsubscribe"].strip("<>")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in mail.body
    path = urlsplit(link).path + "?" + urlsplit(link).query
    stranger = new_client()  # the mail provider: no cookie, no CSRF token
    assert (await stranger.get(path)).status_code == 200  # a GET changes nothing
    settings = await api["reader"].ok("GET", "/api/notifications/courriels")
    assert settings["default"] == "immediate"
    forged = await stranger.post(path[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 404
    done = await stranger.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    # The mail was about one space: its mails stop, the others' go on.
    modes = await api["reader"].ok("GET", "/api/notifications/courriels")
    assert modes == {"default": "immediate", "spaces": {str(world.space_id): "off"}}
    await api["editor"].comment("page", world.page.id, f"<p>{mention} encore</p>")
    await _sender(app).run_once(utcnow() + timedelta(days=2))
    assert len(await _mails_to(app, reader.id)) == 1
    assert (await api["reader"].notifications())["unread"] == 2  # still in the app


async def test_a_daily_digest_instead_of_immediate_mails(
    app: Starlette, world: World, api: dict[str, SocialApi]
) -> None:
    chosen = await api["reader"].ok(
        "POST", "/api/notifications/courriels", {"space_id": world.space_id, "mail": "daily"}
    )
    assert chosen["spaces"] == {str(world.space_id): "daily"}
    outsider_space = await api["outsider"].call(
        "POST", "/api/notifications/courriels", {"space_id": world.space_id, "mail": "off"}
    )
    assert outsider_space.status_code == 404
    mention = f'<span data-type="mention" data-id="{world.people["reader"].id}">@r</span>'
    for n in range(2):
        await api["editor"].comment("page", world.page.id, f"<p>{mention} {n}</p>")
    await _sender(app).run_once(utcnow() + timedelta(seconds=125))
    assert await _mails_to(app, world.people["reader"].id) == []
    await _sender(app).run_once(utcnow() + timedelta(days=1, hours=1))
    (digest,) = await _mails_to(app, world.people["reader"].id)
    assert digest.subject == "Atelier : votre résumé du jour (2 notifications)"
