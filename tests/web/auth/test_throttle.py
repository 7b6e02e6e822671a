"""Sign-in throttling stops attackers, not colleagues.

Waits grow per (account, address) pair; an account attacked from many addresses slows only
the addresses that failed for it; one address slows down only past a much higher bar; every
wait is a 429 with Retry-After and a sentence saying when to retry. The throttle's clock is a
fake one the tests move forward; everything else is the real app, over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.forms import csrf_token, post_form
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in
from tests.support.servers import AtelierServer
from tests.support.web_app import BASE_URL
from web.accounts.users import create_user
from web.auth.throttle import (
    Failures,
    History,
    ThrottleRule,
    address_key,
    seconds_to_wait,
)
from web.database import create_engine, database_url

MakeUser = Callable[..., Awaitable[int]]
BrowserAt = Callable[[str], httpx.AsyncClient]

ATTACKER = "203.0.113.9"
COLLEAGUE = "198.51.100.7"


class FakeClock:
    """The throttle's clock, moved forward by the test instead of waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _use_clock(app: Starlette, clock: FakeClock) -> FakeClock:
    app.state.throttle.clock = clock
    return clock


@pytest.fixture
def clock(app: Starlette) -> FakeClock:
    return _use_clock(app, FakeClock())


async def _browsers_on(app: Starlette) -> AsyncIterator[BrowserAt]:
    made: list[httpx.AsyncClient] = []

    def at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        made.append(httpx.AsyncClient(transport=transport, base_url=BASE_URL))
        return made[-1]

    yield at
    for browser in made:
        await browser.aclose()


@pytest.fixture
async def browser_at(app: Starlette) -> AsyncIterator[BrowserAt]:
    """A new browser whose requests come from the given client address."""
    async for at in _browsers_on(app):
        yield at


def _wait_of(response: httpx.Response) -> int:
    assert response.status_code == 429, response.status_code
    return int(response.headers["retry-after"])


async def _wrong_guesses(
    browser: httpx.AsyncClient, email: str, count: int, clock: FakeClock
) -> None:
    """`count` wrong passwords, each refused as wrong, waiting out any delay first."""
    for _ in range(count):
        response = await sign_in(browser, email, "wrong guess")
        if response.status_code == 429:
            clock.advance(_wait_of(response))
            response = await sign_in(browser, email, "wrong guess")
        assert response.status_code == 400, response.status_code


async def test_an_attackers_failures_from_one_address_do_not_stop_the_right_password_from_another(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("tom@agri.gouv.fr")
    attacker = browser_at(ATTACKER)
    await _wrong_guesses(attacker, "tom@agri.gouv.fr", 8, clock)
    # The attacker's own address waits, even with the right password...
    assert (await sign_in(attacker, "tom@agri.gouv.fr", PASSWORD)).status_code == 429
    # ...while Tom, on his own laptop, signs in at once.
    colleague = browser_at(COLLEAGUE)
    assert (await sign_in(colleague, "tom@agri.gouv.fr", PASSWORD)).status_code == 303
    assert (await colleague.get("/compte")).status_code == 200


async def test_an_account_guessed_from_many_addresses_slows_those_addresses_not_its_owner(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("una@agri.gouv.fr")
    bots = [browser_at(f"203.0.113.{n}") for n in range(1, 5)]
    for bot in bots:  # 12 failures, never more than 3 from one address
        await _wrong_guesses(bot, "una@agri.gouv.fr", 3, clock)
    assert (await sign_in(bots[0], "una@agri.gouv.fr", "guess")).status_code == 429
    # Una's laptop never failed for her account: her password is checked, and it works.
    una = browser_at(COLLEAGUE)
    assert (await sign_in(una, "una@agri.gouv.fr", PASSWORD)).status_code == 303


async def test_failures_against_one_account_do_not_slow_another_account_from_the_same_address(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("xavier@agri.gouv.fr")
    await make_user("yasmine@agri.gouv.fr")
    office = browser_at("192.0.2.50")
    await _wrong_guesses(office, "xavier@agri.gouv.fr", 20, clock)
    slowed = await sign_in(office, "xavier@agri.gouv.fr", PASSWORD)
    assert _wait_of(slowed) == 300
    assert "Trop de tentatives : réessayez dans 5 minutes." in page_text(slowed)

    neighbour = browser_at("192.0.2.50")
    assert (await sign_in(neighbour, "yasmine@agri.gouv.fr", PASSWORD)).status_code == 303


async def test_one_address_guessing_many_accounts_waits_a_growing_delay_not_a_lock(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(login_max_failures_per_address=8)
    clock = _use_clock(app, FakeClock())
    await create_user(
        app.state.engine, email="zoe@agri.gouv.fr", display_name="Zoé", password=PASSWORD
    )
    async for at in _browsers_on(app):
        nat = "192.0.2.80"  # a ministry's NAT: an attacker and Zoé behind one address
        for n in range(8):
            assert (await sign_in(at(nat), f"user{n}@agri.gouv.fr", "guess")).status_code == 400
        assert _wait_of(await sign_in(at(nat), "someone.else@agri.gouv.fr", "guess")) == 1
        assert _wait_of(await sign_in(at(nat), "zoe@agri.gouv.fr", PASSWORD)) == 1
        clock.advance(1)
        assert (await sign_in(at(nat), "zoe@agri.gouv.fr", PASSWORD)).status_code == 303
        assert (await sign_in(at(nat), "user9@agri.gouv.fr", "guess")).status_code == 400
        assert _wait_of(await sign_in(at(nat), "user10@agri.gouv.fr", "guess")) == 2
        # Elsewhere, nobody notices.
        assert (await sign_in(at(COLLEAGUE), "user10@agri.gouv.fr", "guess")).status_code == 400


async def test_each_wait_is_longer_than_the_one_before_and_retrying_early_does_not_lengthen_it(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("vera@agri.gouv.fr")
    browser = browser_at(ATTACKER)
    await _wrong_guesses(browser, "vera@agri.gouv.fr", 5, clock)
    waits = []
    for _ in range(3):
        waits.append(_wait_of(await sign_in(browser, "vera@agri.gouv.fr", "guess")))
        clock.advance(waits[-1])
        assert (await sign_in(browser, "vera@agri.gouv.fr", "guess")).status_code == 400
    assert waits == [1, 2, 4]
    assert _wait_of(await sign_in(browser, "vera@agri.gouv.fr", "guess")) == 8
    clock.advance(5)
    assert _wait_of(await sign_in(browser, "vera@agri.gouv.fr", PASSWORD)) == 3


async def test_a_slowed_attempt_gets_429_retry_after_and_a_sentence_saying_when_to_retry(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("will@agri.gouv.fr")
    browser = browser_at(ATTACKER)
    await _wrong_guesses(browser, "will@agri.gouv.fr", 5, clock)
    slowed = await sign_in(browser, "will@agri.gouv.fr", PASSWORD)
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "1"
    assert "Trop de tentatives : réessayez dans 1 seconde." in page_text(slowed)
    assert 'value="will@agri.gouv.fr"' in slowed.text  # the form is kept filled in
    assert (await browser.get("/compte")).status_code == 303

    browser.cookies.set("atelier_langue", "en")
    english = await sign_in(browser, "will@agri.gouv.fr", PASSWORD)
    assert "Too many attempts: try again in 1 second." in page_text(english)


async def test_a_success_clears_the_failures_of_that_address_only(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("xena@agri.gouv.fr")
    attacker, laptop = browser_at(ATTACKER), browser_at(COLLEAGUE)
    await _wrong_guesses(attacker, "xena@agri.gouv.fr", 5, clock)
    await _wrong_guesses(laptop, "xena@agri.gouv.fr", 5, clock)
    clock.advance(1)
    assert (await sign_in(laptop, "xena@agri.gouv.fr", PASSWORD)).status_code == 303

    laptop.cookies.clear()  # signed out: the count starts again from zero
    for _ in range(5):
        assert (await sign_in(laptop, "xena@agri.gouv.fr", "typo")).status_code == 400
    assert _wait_of(await sign_in(laptop, "xena@agri.gouv.fr", PASSWORD)) == 1
    # The attacker's failures were not forgiven by Xena's success: its next wait is longer.
    assert (await sign_in(attacker, "xena@agri.gouv.fr", "guess")).status_code == 400
    assert _wait_of(await sign_in(attacker, "xena@agri.gouv.fr", "guess")) == 2


async def test_the_wait_holds_for_another_worker_on_the_same_database(
    database: str | None, make_app: Callable[..., Awaitable[Starlette]]
) -> None:
    """On SQLite, then on PostgreSQL when one answers."""
    on = {"database_url": database} if database else {}
    app, other_worker = await make_app(**on), await make_app(**on)
    await create_user(
        app.state.engine, email="ugo@agri.gouv.fr", display_name="Ugo", password=PASSWORD
    )
    clock = _use_clock(app, FakeClock())
    _use_clock(other_worker, clock)
    async for one in _browsers_on(app):
        async for two in _browsers_on(other_worker):
            await _wrong_guesses(one(ATTACKER), "ugo@agri.gouv.fr", 5, clock)
            assert _wait_of(await sign_in(two(ATTACKER), "ugo@agri.gouv.fr", PASSWORD)) == 1


async def test_guesses_sent_all_at_once_past_the_bar_get_one_check_not_one_each(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("abel@agri.gouv.fr")
    browser = browser_at(ATTACKER)
    await _wrong_guesses(browser, "abel@agri.gouv.fr", 4, clock)
    token = await csrf_token(browser)
    form = {"email": "abel@agri.gouv.fr", "password": "guess", "csrf_token": token}
    answers = await asyncio.gather(*(browser.post("/connexion", data=form) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [400] + [429] * 7


async def test_unknown_and_existing_accounts_are_slowed_exactly_alike(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("real@agri.gouv.fr")

    async def answers(email: str, address: str) -> list[tuple[int, str]]:
        browser, seen = browser_at(address), []
        for step in range(9):
            response = await sign_in(browser, email, "guess")
            seen.append((response.status_code, response.headers.get("retry-after", "")))
            if step % 2:
                clock.advance(1)
        return seen

    existing = await answers("real@agri.gouv.fr", "192.0.2.1")
    unknown = await answers("ghost@agri.gouv.fr", "192.0.2.2")
    assert existing == unknown
    assert (429, "1") in existing


async def test_reset_mails_and_registrations_do_not_count_as_failed_sign_ins(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("yann@agri.gouv.fr")
    office = browser_at("192.0.2.60")
    for n in range(20):
        response = await post_form(office, "/mot-de-passe-oublie", {"email": f"p{n}@x.gouv.fr"})
        assert response.status_code == 200
    assert (await sign_in(office, "yann@agri.gouv.fr", PASSWORD)).status_code == 303


async def test_an_attacker_moving_within_one_ipv6_64_is_one_address(
    clock: FakeClock, browser_at: BrowserAt, make_user: MakeUser
) -> None:
    await make_user("zack@agri.gouv.fr")
    for n in range(1, 6):
        response = await sign_in(browser_at(f"2001:db8:5:6::{n}"), "zack@agri.gouv.fr", "guess")
        assert response.status_code == 400
    moved = await sign_in(browser_at("2001:db8:5:6::ff"), "zack@agri.gouv.fr", PASSWORD)
    assert _wait_of(moved) == 1
    assert (await sign_in(browser_at("2001:db8:7:8::1"), "zack@agri.gouv.fr")).status_code == 303


def test_waits_grow_from_one_second_and_stop_at_their_longest() -> None:
    rule = ThrottleRule(
        pair_failures=5, account_failures=10, address_failures=100, window=timedelta(minutes=15)
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def wait(pair: int, account: int, address: int) -> int:
        history = History(
            pair=Failures(pair, now if pair else None),
            account=Failures(account, now if account else None),
            address=Failures(address, now if address else None),
        )
        return seconds_to_wait(history, rule, now)

    assert [wait(n, n, n) for n in (4, 5, 6, 7, 13, 14, 40)] == [0, 1, 2, 4, 256, 300, 300]
    assert wait(0, 500, 0) == 0  # an address that never failed for the account
    assert wait(1, 12, 1) == 4  # one that did, while the account is attacked from elsewhere
    assert [wait(0, 0, n) for n in (99, 100, 105, 106, 10_000)] == [0, 1, 32, 60, 60]


def test_ipv6_clients_are_throttled_by_their_64_and_ipv4_as_they_are() -> None:
    assert address_key("2001:db8:5:6:a:b:c:d") == "2001:db8:5:6::/64"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("unknown") == "unknown"


# --- Behind a reverse proxy: uvicorn's FORWARDED_ALLOW_IPS (docs/deployment.md) ---------------


async def _served_user(server: AtelierServer, email: str) -> None:
    engine = create_engine(database_url(server.data_dir.resolve(), None))
    try:
        await create_user(engine, email=email, display_name="Agent", password=PASSWORD)
    finally:
        await engine.dispose()


def _through_proxy(server: AtelierServer, client: str) -> httpx.AsyncClient:
    """A browser whose requests reach the server through a proxy on loopback."""
    return httpx.AsyncClient(base_url=server.http_url, headers={"X-Forwarded-For": client})


async def test_behind_a_trusted_proxy_each_person_is_throttled_by_their_own_address(
    atelier: Callable[..., AtelierServer], tmp_path: Path
) -> None:
    server = atelier(tmp_path / "trusted")  # FORWARDED_ALLOW_IPS unset: loopback is trusted
    await _served_user(server, "proxy@agri.gouv.fr")
    async with _through_proxy(server, ATTACKER) as attacker:
        for _ in range(6):
            await sign_in(attacker, "proxy@agri.gouv.fr", "guess")
    async with _through_proxy(server, COLLEAGUE) as colleague:
        assert (await sign_in(colleague, "proxy@agri.gouv.fr")).status_code == 303
    assert f"sign-in refused for 'proxy@agri.gouv.fr' from {ATTACKER}" in server.log()


async def test_behind_an_untrusted_proxy_everyone_has_the_proxys_address(
    atelier: Callable[..., AtelierServer], tmp_path: Path
) -> None:
    server = atelier(tmp_path / "untrusted", FORWARDED_ALLOW_IPS="192.0.2.254")
    async with _through_proxy(server, ATTACKER) as attacker:
        assert (await sign_in(attacker, "nobody@agri.gouv.fr", "guess")).status_code == 400
    assert "sign-in refused for 'nobody@agri.gouv.fr' from 127.0.0.1" in server.log()
