"""Sign-in throttling that stops attackers, not colleagues; request limits for mails and sign-ups.

Sign-in failures are rows of `login_failures` (kind "sign-in"), in the database so that every
worker and machine sees the same counts. They are remembered for `window` (an hour by
default), and judged against three bars:

- one account from one client address (the pair): past `pair_failures`, each further attempt
  of that pair waits 1 s, then 2 s, 4 s... at most `LONGEST_WAIT`, counted from its last
  failure. The right password is refused too while it waits, or the wait would be pointless.
- one account from every address (guessing from many machines): past `account_failures`, the
  addresses that have failed for the account wait as long; an address that never failed for
  it is still checked, so a colleague on their own laptop is never kept out by an attacker
  elsewhere. The price: each new address gets its guess (see docs/deployment.md).
- one address against every account (one machine guessing many accounts): past the much
  higher `address_failures`, everyone behind the address waits, at most
  `LONGEST_ADDRESS_WAIT`: behind a ministry's NAT an attacker slows colleagues down for a
  minute at a time, never locks them out.

The window is long so that a wait cannot be dodged by pausing: with waits capped at minutes,
an attacker keeping one pair busy gets about a dozen guesses an hour, fewer than the former
lock of five per quarter of an hour allowed. A success clears the failures of its own pair
only: a colleague's typos behind a NAT stop counting once they get in, and an attacker's are
not forgiven by the owner signing in. An attempt is written down as a failure before its
password is checked and judged against the failures written before it, so requests sent all
at once cannot all slip through one check. Failures are keyed by the email as typed, whether
or not such an account exists, so the throttle answers alike for both. IPv6 clients count by
their /64, which one household or site usually holds whole.

Reset mails and registrations keep a plain limit per key and per address (`RequestLimit`), on
rows of their own kind: they never count as failed sign-ins of an address.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from web.auth.sessions import now_utc, utc
from web.config import Settings
from web.schema import login_failures

Clock = Callable[[], datetime]

# The first wait; each further failure doubles it.
FIRST_WAIT = timedelta(seconds=1)
# Longest wait of one account from one address (or from addresses that failed for it): long
# enough that guessing is slow, short enough that a person who mistyped is told a few minutes.
LONGEST_WAIT = timedelta(minutes=5)
# Longest wait of a whole address: many colleagues may share it (NAT), so keep it short; the
# high bar and the window already cap what one address can try.
LONGEST_ADDRESS_WAIT = timedelta(minutes=1)

# Reset mails and registrations: at most `ATELIER_LOGIN_MAX_FAILURES` per key (an email, an
# address) and this many per address (a NAT's colleagues included) within `REQUEST_WINDOW`.
REQUESTS_PER_ADDRESS = 20
REQUEST_WINDOW = timedelta(minutes=15)

SIGN_IN = "sign-in"
ACCOUNT_LENGTH, ADDRESS_LENGTH = 320, 64


def address_key(address: str) -> str:
    """The address as counted: IPv6 by its /64, IPv4-mapped IPv6 as IPv4, anything else as is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:ADDRESS_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class ThrottleRule:
    """How many failures within `window` before waits start, for each of the three bars."""

    pair_failures: int
    account_failures: int
    address_failures: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleRule:
        return cls(
            pair_failures=settings.login_max_failures,
            account_failures=settings.login_max_failures_per_account,
            address_failures=settings.login_max_failures_per_address,
            window=timedelta(seconds=settings.login_window_seconds),
        )


@dataclass(frozen=True)
class Failures:
    """Failures within the window, and when the last one was (None: none)."""

    count: int
    last: datetime | None


@dataclass(frozen=True)
class History:
    """What the throttle knows before judging one attempt."""

    pair: Failures  # this account from this address
    account: Failures  # this account from every address
    address: Failures  # every account from this address


def wait_after(failures: int, bar: int, longest: timedelta) -> timedelta:
    """The wait after the `failures`-th failure: none below `bar`, then 1 s, 2 s, 4 s..."""
    if failures < bar:
        return timedelta(0)
    doublings = min(failures - bar, 32)  # 2**32 s is past any longest wait
    return min(longest, FIRST_WAIT * (1 << doublings))


def seconds_to_wait(history: History, rule: ThrottleRule, now: datetime) -> int:
    """Whole seconds before this attempt may be checked (0: check it now)."""
    waits = [timedelta(0)]
    if history.pair.last is not None:
        # This address failed for this account: its own bar, or the account's when the
        # account is being guessed from elsewhere too, whichever asks for longer.
        wait = max(
            wait_after(history.pair.count, rule.pair_failures, LONGEST_WAIT),
            wait_after(history.account.count, rule.account_failures, LONGEST_WAIT),
        )
        waits.append(history.pair.last + wait - now)
    if history.address.last is not None:
        wait = wait_after(history.address.count, rule.address_failures, LONGEST_ADDRESS_WAIT)
        waits.append(history.address.last + wait - now)
    return math.ceil(max(waits).total_seconds())


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: let through (`wait` 0, written down as `row`) or told to wait."""

    account: str
    address: str
    wait: int
    row: int | None = None


class SignInThrottle:
    """Judges sign-in attempts against the failures in the database, for every worker."""

    def __init__(self, engine: AsyncEngine, rule: ThrottleRule, clock: Clock = now_utc) -> None:
        self.engine = engine
        self.rule = rule
        self.clock = clock

    async def attempt(self, account: str, address: str) -> Attempt:
        """Let an attempt through (counted as a failure until `succeeded`) or say how long
        to wait; nothing is written down for an attempt told to wait."""
        account, address = account[:ACCOUNT_LENGTH], address_key(address)
        now = self.clock()
        async with self.engine.connect() as connection:
            wait = await self._wait(connection, account, address, now)
        if wait:
            return Attempt(account, address, wait)
        async with self.engine.begin() as connection:
            result = await connection.execute(
                login_failures.insert().values(
                    kind=SIGN_IN, account=account, address=address, at=now
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            row = int(key[0])
            # Rows older than the window are useless: prune as we go, the table stays small.
            await connection.execute(
                delete(login_failures).where(
                    login_failures.c.kind == SIGN_IN,
                    login_failures.c.at < now - self.rule.window * 2,
                )
            )
        # Judged again against the rows written before this one: of attempts sent at once,
        # the first ones get through, the others wait.
        async with self.engine.connect() as connection:
            wait = await self._wait(connection, account, address, now, before=row)
        if wait:
            async with self.engine.begin() as connection:
                await connection.execute(delete(login_failures).where(login_failures.c.id == row))
            return Attempt(account, address, wait)
        return Attempt(account, address, 0, row)

    async def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the wait runs from now, when the person is told."""
        if attempt.row is None:
            return
        async with self.engine.begin() as connection:
            await connection.execute(
                update(login_failures)
                .where(login_failures.c.id == attempt.row)
                .values(at=self.clock())
            )

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget this account's failures from this address."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(login_failures).where(
                    login_failures.c.kind == SIGN_IN,
                    login_failures.c.account == attempt.account,
                    login_failures.c.address == attempt.address,
                )
            )

    async def _wait(
        self,
        connection: AsyncConnection,
        account: str,
        address: str,
        now: datetime,
        before: int | None = None,
    ) -> int:
        table = login_failures.c
        scope = [table.kind == SIGN_IN, table.at > now - self.rule.window]
        if before is not None:
            scope.append(table.id < before)

        async def failures(*where: ColumnElement[bool]) -> Failures:
            query = select(func.count(), func.max(table.at)).where(and_(*scope, *where))
            count, last = (await connection.execute(query)).one()
            return Failures(int(count), None if last is None else utc(last))

        history = History(
            pair=await failures(table.account == account, table.address == address),
            account=await failures(table.account == account),
            address=await failures(table.address == address),
        )
        return seconds_to_wait(history, self.rule, now)


class RequestLimit:
    """At most `per_key` requests per key and `per_address` per address within the window.

    For reset mails (key: the email; nobody floods an inbox) and registrations (key: the
    address); each kind counts its own rows only.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        kind: str,
        *,
        per_key: int,
        per_address: int,
        window: timedelta,
        clock: Clock = now_utc,
    ) -> None:
        self.engine = engine
        self.kind = kind
        self.per_key = per_key
        self.per_address = per_address
        self.window = window
        self.clock = clock

    async def retry_after(self, key: str, address: str) -> int:
        """Seconds until a request for this key from this address is allowed (0: now)."""
        key, address = key[:ACCOUNT_LENGTH], address_key(address)
        now = self.clock()
        since = now - self.window
        waits = [0]
        async with self.engine.connect() as connection:
            for column, value, limit in (
                (login_failures.c.account, key, self.per_key),
                (login_failures.c.address, address, self.per_address),
            ):
                query = select(func.count(), func.min(login_failures.c.at)).where(
                    login_failures.c.kind == self.kind, column == value, login_failures.c.at > since
                )
                count, oldest = (await connection.execute(query)).one()
                if count >= limit and oldest is not None:
                    # Until the oldest request in the window leaves it.
                    waits.append(math.ceil((utc(oldest) + self.window - now).total_seconds()))
        return max(waits)

    async def record(self, key: str, address: str) -> None:
        now = self.clock()
        async with self.engine.begin() as connection:
            await connection.execute(
                login_failures.insert().values(
                    kind=self.kind,
                    account=key[:ACCOUNT_LENGTH],
                    address=address_key(address),
                    at=now,
                )
            )
            await connection.execute(
                delete(login_failures).where(
                    login_failures.c.kind == self.kind,
                    login_failures.c.at < now - self.window * 2,
                )
            )
