"""Who gets into a space's meeting `/visio/space-<id>`, with real session cookies: members by
role, guests through the lobby (admitted or refused by a host), everyone else refused."""

from __future__ import annotations

from collections.abc import Callable

from sfu.signaling import Moderate
from tests.support.forms import post_as
from tests.support.servers import AtelierServer
from tests.support.sfu_peers import WsBot
from tests.support.visio import LOOPBACK_ENV, arrive, visio_url
from tests.support.worlds import live_world

Start = Callable[..., AtelierServer]

# actor → role in the meeting, "lobby", or the close code
EXPECTED: dict[str, str | int] = {
    "owner": "host",
    "admin": "host",
    "editor": "member",
    "commenter": "member",
    "reader": "member",
    "space_link_reader": "lobby",
    "outsider": 4403,
    "instance_admin": 4403,
    "anonymous": 4401,
}


async def test_each_person_enters_the_space_meeting_as_their_role_says(atelier: Start) -> None:
    server = atelier(**LOOPBACK_ENV)
    world = await live_world(server)
    url = visio_url(server, f"space-{world.space_id}")
    seen: dict[str, str | int] = {}
    for actor in EXPECTED:
        bot = await WsBot(url, actor, cookie=world.cookies.get(actor, "")).join()
        seen[actor] = await arrive(bot)
        await bot.leave()
    assert seen == EXPECTED
    await world.engine.dispose()


async def test_a_guest_waits_in_the_lobby_until_a_host_admits_or_refuses(atelier: Start) -> None:
    server = atelier(**LOOPBACK_ENV)
    world = await live_world(server)
    url = visio_url(server, f"space-{world.space_id}")
    owner = await WsBot(url, "owner", cookie=world.cookies["owner"]).join()
    await owner.wait_for(lambda: owner.got("welcome"))
    guest = await WsBot(url, "guest", cookie=world.cookies["space_link_reader"]).join()
    assert await arrive(guest) == "lobby"
    waiting = await owner.wait_for(
        lambda: [m for m in owner.got("lobby_changed") if m.fields["waiting"]]
    )
    guest_id = waiting[-1].fields["waiting"][0]["id"]
    assert owner.send is not None
    await owner.send(Moderate("admit", guest_id))
    welcome = await guest.wait_for(lambda: guest.got("welcome"))
    assert welcome[0].fields["role"] == "guest"
    joined = await owner.wait_for(lambda: owner.got("joined"))
    assert joined[0].fields["participant"]["id"] == guest_id

    second = await WsBot(url, "second", cookie=world.cookies["space_link_reader"]).join()
    assert await arrive(second) == "lobby"
    waiting = await owner.wait_for(
        lambda: [m for m in owner.got("lobby_changed") if m.fields["waiting"]][1:]
    )
    await owner.send(Moderate("refuse", waiting[-1].fields["waiting"][0]["id"]))
    await second.wait_for(lambda: second.closed)
    assert second.closed == (4403, "a host refused you")
    for bot in (second, guest, owner):
        await bot.leave()
    await world.engine.dispose()


async def test_a_guest_waiting_in_the_lobby_is_cut_off_when_their_link_is_revoked(
    atelier: Start,
) -> None:
    # The expiry watch slowed to an hour: only the revocation itself can close the socket.
    server = atelier(**LOOPBACK_ENV, ATELIER_ACCESS_WATCH_SECONDS="3600")
    world = await live_world(server)
    url = visio_url(server, f"space-{world.space_id}")
    guest = await WsBot(url, "guest", cookie=world.cookies["space_link_reader"]).join()
    assert await arrive(guest) == "lobby"
    link_id = world.link_ids["space_link_reader"]
    path = f"/espaces/{world.slug}/liens/{link_id}/revoquer"
    assert await post_as(server, world.cookies["owner"], path, {}) == 303
    await guest.wait_for(lambda: guest.closed)
    assert guest.closed == (4403, "guest link revoked")
    await guest.leave()
    await world.engine.dispose()
