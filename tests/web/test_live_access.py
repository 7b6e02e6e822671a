"""Taking access away ends the live sockets at once: a document's `/sync` socket and the space
meeting's `/visio` socket, through the real routes people use, on one worker and across two.

The servers run with the expiry watch slowed to an hour, so only the change itself can close
a socket here; each test also keeps a socket that must stay open (its positive control).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.forms import post_as as post
from tests.support.people import Who
from tests.support.servers import AtelierServer
from tests.support.sfu_peers import WsBot
from tests.support.visio import LOOPBACK_ENV, arrive, visio_url
from tests.support.worlds import LiveWorld, live_world
from tests.support.yjs import YjsClients
from web.auth.sessions import COOKIE_NAME
from web.schema import outbox, users
from web.spaces import services

Start = Callable[..., AtelierServer]
# Only the access change itself may close a socket in these tests.
QUIET = {**LOOPBACK_ENV, "ATELIER_ACCESS_WATCH_SECONDS": "3600"}


@pytest.fixture
async def ys() -> AsyncIterator[YjsClients]:
    clients = await YjsClients().start()
    yield clients
    await clients.close()


class Person:
    """One person's live sockets: the shared page's document and the space's meeting."""

    def __init__(self, ys: YjsClients, server: AtelierServer, world: LiveWorld, name: str):
        self.ys, self.server, self.world, self.name = ys, server, world, name
        self.bot: WsBot | None = None

    async def open(self, cookie: str, *, meeting: bool = True) -> Person:
        doc = self.world.page.doc_name
        await self.ys("open", client=self.name, url=self.server.sync_url, doc=doc, cookie=cookie)
        if meeting:
            url = visio_url(self.server, f"space-{self.world.space_id}")
            self.bot = await WsBot(url, self.name, cookie=cookie).join()
            assert await arrive(self.bot) in ("host", "member")
        return self

    async def sync_closed(self) -> dict[str, object]:
        closes = (await self.ys("wait_closed", client=self.name, timeout=10))["closes"]
        return dict(closes[0])

    async def meeting_closed(self) -> tuple[int, str]:
        assert self.bot is not None
        await self.bot.wait_for(lambda: self.bot.closed if self.bot else None, timeout=10)
        assert self.bot.closed is not None
        return self.bot.closed

    async def still_writes(self, watcher: Person) -> None:
        """Positive control: this socket is open and its edits reach another person."""
        mark = f"[{self.name} {uuid.uuid4().hex[:6]}]"
        await self.ys("insert", client=self.name, text=mark)
        await self.ys("wait_contains", client=watcher.name, text=mark)
        assert (await self.ys("events", client=self.name))["closes"] == []
        if self.bot is not None:
            assert self.bot.closed is None

    async def leave(self) -> None:
        if self.bot is not None:
            await self.bot.leave()


async def watcher(ys: YjsClients, server: AtelierServer, world: LiveWorld) -> Person:
    """A reader who only watches the page: a witness that others' edits still arrive."""
    return await Person(ys, server, world, "watcher").open(world.cookies["reader"], meeting=False)


async def world_of(atelier: Start, **env: str) -> tuple[AtelierServer, LiveWorld]:
    server = atelier(**QUIET, **env)
    return server, await live_world(server)


async def test_signing_out_closes_that_sessions_sockets_only(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    other_device = f"{COOKIE_NAME}={await world.sessions.open(world.ids['editor'], 'phone')}"
    laptop = await Person(ys, server, world, "laptop").open(world.cookies["editor"])
    phone = await Person(ys, server, world, "phone").open(other_device, meeting=False)
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)

    assert await post(server, world.cookies["editor"], "/deconnexion", {}) == 303

    assert await laptop.sync_closed() == {"code": 4401, "reason": "signed out"}
    assert await laptop.meeting_closed() == (4401, "signed out")
    await phone.still_writes(owner)
    for person in (laptop, phone, owner):
        await person.leave()
    await world.engine.dispose()


async def test_signing_out_everywhere_closes_every_session_of_that_person(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    second = f"{COOKIE_NAME}={await world.sessions.open(world.ids['editor'], 'phone')}"
    laptop = await Person(ys, server, world, "laptop").open(world.cookies["editor"])
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"])

    # From the phone: "déconnexion partout".
    assert await post(server, second, "/deconnexion-partout", {}) == 303

    assert (await laptop.sync_closed())["code"] == 4401
    assert (await laptop.meeting_closed())[0] == 4401
    await owner.still_writes(await watcher(ys, server, world))
    for person in (laptop, owner):
        await person.leave()
    await world.engine.dispose()


async def test_a_password_change_closes_the_other_devices_and_keeps_this_one(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    here = f"{COOKIE_NAME}={await world.sessions.open(world.ids['editor'], 'here')}"
    elsewhere = await Person(ys, server, world, "elsewhere").open(world.cookies["editor"])
    current = await Person(ys, server, world, "current").open(here, meeting=False)
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)

    new = "un mot de passe tout neuf"
    changed = await post(
        server, here, "/compte/mot-de-passe", {"current": "", "password": new, "password2": new}
    )
    assert changed == 303

    assert (await elsewhere.sync_closed())["code"] == 4401
    assert (await elsewhere.meeting_closed())[0] == 4401
    await current.still_writes(owner)
    for person in (elsewhere, current, owner):
        await person.leave()
    await world.engine.dispose()


async def test_a_password_reset_closes_every_socket_of_that_person(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    editor = await Person(ys, server, world, "editor").open(world.cookies["editor"])
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)
    async with world.engine.connect() as conn:
        email = (
            await conn.execute(select(users.c.email).where(users.c.id == world.ids["editor"]))
        ).scalar_one()
    assert await post(server, "", "/mot-de-passe-oublie", {"email": email}) == 200
    async with world.engine.connect() as conn:
        body = (
            await conn.execute(select(outbox.c.body).where(outbox.c.to_address == email))
        ).scalar_one()
    match = re.search(r"/reinitialiser/[A-Za-z0-9_-]+", body)
    assert match, body
    new = "un mot de passe tout neuf"
    assert await post(server, "", match.group(0), {"password": new, "password2": new}) == 303

    assert (await editor.sync_closed())["code"] == 4401
    assert (await editor.meeting_closed())[0] == 4401
    await owner.still_writes(await watcher(ys, server, world))
    for person in (editor, owner):
        await person.leave()
    await world.engine.dispose()


async def test_deactivating_an_account_closes_its_sockets(atelier: Start, ys: YjsClients) -> None:
    server, world = await world_of(atelier)
    editor = await Person(ys, server, world, "editor").open(world.cookies["editor"])
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)
    path = f"/admin/comptes/{world.ids['editor']}/desactiver"
    assert await post(server, world.cookies["instance_admin"], path, {}) == 303

    assert (await editor.sync_closed())["code"] == 4401
    assert (await editor.meeting_closed())[0] == 4401
    await owner.still_writes(await watcher(ys, server, world))
    for person in (editor, owner):
        await person.leave()
    await world.engine.dispose()


async def test_a_role_lowered_to_reader_stops_writes_without_a_reconnect(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    editor = await Person(ys, server, world, "editor").open(world.cookies["editor"])
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)
    await editor.still_writes(owner)
    path = f"/espaces/{world.slug}/membres/role"
    data = {"user_id": str(world.ids["editor"]), "role": "reader"}
    assert await post(server, world.cookies["owner"], path, data) == 303

    # Told at once, on the same socket: its editor turns read-only.
    denied = (await ys("wait_denied", client="editor"))["denied"]
    assert "read-only" in denied[0]
    await ys("insert", client="editor", text="[after demotion]")
    await owner.still_writes(editor)  # the owner's later edit arrived: the editor's did not
    assert "[after demotion]" not in (await ys("text", client="owner"))["text"]
    events = await ys("events", client="editor")
    assert events["closes"] == []  # no reconnect: the same socket, now read-only
    assert editor.bot is not None and editor.bot.closed is None  # still a member of the meeting
    # Raised again: it writes again, still without a reconnect.
    data["role"] = "editor"
    assert await post(server, world.cookies["owner"], path, data) == 303
    await editor.still_writes(owner)
    for person in (editor, owner):
        await person.leave()
    await world.engine.dispose()


async def test_a_host_made_editor_rejoins_the_meeting_as_a_member(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    admin = await Person(ys, server, world, "admin").open(world.cookies["admin"])
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)
    path = f"/espaces/{world.slug}/membres/role"
    data = {"user_id": str(world.ids["admin"]), "role": "editor"}
    assert await post(server, world.cookies["owner"], path, data) == 303
    assert await admin.meeting_closed() == (4100, "your role changed: joining again")
    # Editors still write the page: the document socket is untouched.
    admin.bot = None
    await admin.still_writes(owner)
    for person in (admin, owner):
        await person.leave()
    await world.engine.dispose()


@pytest.mark.parametrize("how", ["removed", "left"])
async def test_a_member_who_leaves_or_is_removed_loses_both_sockets(
    atelier: Start, ys: YjsClients, how: str
) -> None:
    server, world = await world_of(atelier)
    editor = await Person(ys, server, world, "editor").open(world.cookies["editor"])
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)
    if how == "removed":
        path, data = f"/espaces/{world.slug}/membres/retirer", {"user_id": str(world.ids["editor"])}
        status = await post(server, world.cookies["owner"], path, data)
        reason = "removed from the space"
    else:
        status = await post(server, world.cookies["editor"], f"/espaces/{world.slug}/quitter", {})
        reason = "left the space"
    assert status == 303
    assert await editor.sync_closed() == {"code": 4403, "reason": reason}
    assert await editor.meeting_closed() == (4403, reason)
    await owner.still_writes(await watcher(ys, server, world))
    for person in (editor, owner):
        await person.leave()
    await world.engine.dispose()


async def test_archiving_a_space_turns_its_documents_read_only_at_once(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    editor = await Person(ys, server, world, "editor").open(world.cookies["editor"], meeting=False)
    path = f"/espaces/{world.slug}/archiver"
    assert await post(server, world.cookies["owner"], path, {"archive": "1"}) == 303
    assert "read-only" in (await ys("wait_denied", client="editor"))["denied"][0]
    await ys("insert", client="editor", text="[archived]")
    assert (await ys("events", client="editor"))["closes"] == []
    # What the server holds: a newcomer syncs it, without the refused edit.
    late = await watcher(ys, server, world)
    assert "[archived]" not in (await ys("text", client=late.name))["text"]
    assert await post(server, world.cookies["owner"], path, {"archive": "0"}) == 303
    await editor.still_writes(late)
    await world.engine.dispose()


async def test_moving_a_page_to_the_trash_closes_its_documents_sockets(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    editor = await Person(ys, server, world, "editor").open(world.cookies["editor"], meeting=False)
    path = f"/espaces/{world.slug}/pages/{world.page.id}/corbeille"
    assert await post(server, world.cookies["owner"], path, {}) == 303
    assert await editor.sync_closed() == {"code": 4403, "reason": "page moved to the trash"}
    # Another page of the space is untouched.
    doc = world.other_page.doc_name
    await ys("open", client="other", url=server.sync_url, doc=doc, cookie=world.cookies["editor"])
    await ys("insert", client="other", text="ailleurs")
    assert (await ys("events", client="other"))["closes"] == []
    await world.engine.dispose()


async def test_signing_out_everywhere_on_one_worker_closes_sockets_on_another(
    atelier: Start, ys: YjsClients, redis_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    one = atelier(shared, REDIS_URL=redis_url, **QUIET)
    two = atelier(shared, REDIS_URL=redis_url, **QUIET)
    world = await live_world(one)
    editor = await Person(ys, two, world, "editor").open(world.cookies["editor"])
    owner = await Person(ys, two, world, "owner").open(world.cookies["owner"], meeting=False)
    assert await post(one, world.cookies["editor"], "/deconnexion-partout", {}) == 303
    assert (await editor.sync_closed())["code"] == 4401
    assert (await editor.meeting_closed())[0] == 4401
    await owner.still_writes(await watcher(ys, two, world))
    for person in (editor, owner):
        await person.leave()
    await world.engine.dispose()


async def test_revoking_a_link_through_another_spaces_address_changes_nothing(
    atelier: Start, ys: YjsClients
) -> None:
    server, world = await world_of(atelier)
    elsewhere = await services.create_space(world.engine, Who(world.owner_id), name="Ailleurs")
    guest = await Person(ys, server, world, "guest").open(
        world.cookies["page_link_editor"], meeting=False
    )
    owner = await Person(ys, server, world, "owner").open(world.cookies["owner"], meeting=False)
    link_id = world.link_ids["page_link_editor"]
    path = f"/espaces/{elsewhere.slug}/liens/{link_id}/revoquer"
    assert await post(server, world.cookies["owner"], path, {}) == 404
    await guest.still_writes(owner)
    # The right address still revokes it.
    path = f"/espaces/{world.slug}/liens/{link_id}/revoquer"
    assert await post(server, world.cookies["owner"], path, {}) == 303
    assert await guest.sync_closed() == {"code": 4403, "reason": "guest link revoked"}
    await world.engine.dispose()
