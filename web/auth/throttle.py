"""Sign-in throttling per account and per client address, shared by every worker.

Failures are rows in `login_failures`; an account (or an address) with too many in the
window is refused before its password is even checked, until the oldest failure ages out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from web.auth.sessions import now_utc, utc
from web.schema import login_failures


@dataclass(frozen=True)
class ThrottleRule:
    max_per_account: int
    max_per_address: int
    window: timedelta


class SignInThrottle:
    """Counts failed sign-ins in the database."""

    def __init__(self, engine: AsyncEngine, rule: ThrottleRule) -> None:
        self.engine = engine
        self.rule = rule

    async def retry_after(self, account: str, address: str, now: datetime | None = None) -> int:
        """Seconds until this account and address may try again (0: now)."""
        now = now or now_utc()
        since = now - self.rule.window
        waits = [0]
        async with self.engine.connect() as connection:
            for column, value, limit in (
                (login_failures.c.account, account, self.rule.max_per_account),
                (login_failures.c.address, address, self.rule.max_per_address),
            ):
                query = select(func.count(), func.min(login_failures.c.at)).where(
                    column == value, login_failures.c.at > since
                )
                count, oldest = (await connection.execute(query)).one()
                if count >= limit and oldest is not None:
                    # Conservative: wait until the oldest failure in the window leaves it.
                    waits.append(int((utc(oldest) + self.rule.window - now).total_seconds()) + 1)
        return max(waits)

    async def failed(self, account: str, address: str, now: datetime | None = None) -> None:
        now = now or now_utc()
        async with self.engine.begin() as connection:
            await connection.execute(
                login_failures.insert().values(account=account[:320], address=address[:64], at=now)
            )
            # Old rows are useless: prune as we go so the table stays small.
            await connection.execute(
                delete(login_failures).where(login_failures.c.at < now - self.rule.window * 2)
            )

    async def succeeded(self, account: str) -> None:
        """A correct password clears the account's failures (not the address's)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(login_failures).where(login_failures.c.account == account)
            )
