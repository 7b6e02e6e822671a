"""Run-time settings over the environment's, the log of changes, and the last administrator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette

from web.accounts import instance
from web.accounts import users as accounts
from web.config import SettingsError

MakeUser = Callable[..., Awaitable[int]]
Build = Callable[..., Awaitable[Starlette]]


def test_domains_are_read_one_per_line_or_comma_lowercased_without_repeats() -> None:
    assert instance.parse_domains("Gouv.fr\n exemple.org, @mairie.fr\n\ngouv.fr") == (
        "gouv.fr",
        "exemple.org",
        "mairie.fr",
    )
    assert instance.parse_domains("") == ()
    with pytest.raises(SettingsError):
        instance.parse_domains("gouv.fr\nexemple/org")
    with pytest.raises(SettingsError):
        instance.parse_domains("\n".join(f"d{n}.fr" for n in range(instance.MAX_DOMAINS + 1)))


async def test_the_environment_value_holds_until_an_admin_changes_it(make_app: Build) -> None:
    app = await make_app(signup_domains=("agri.gouv.fr",), signup_open=False)
    engine, settings = app.state.engine, app.state.settings
    assert await instance.current(engine, settings) == instance.InstanceSettings(
        ("agri.gouv.fr",), False
    )
    at = datetime(2026, 12, 7, 22, 15, tzinfo=UTC)
    wanted = instance.InstanceSettings(("agri.gouv.fr", "mairie.fr"), False)
    changed = await instance.change(engine, settings, 1, "Chef", wanted, now=at)
    assert changed == ["signup_domains"]
    assert await instance.current(engine, settings) == wanted
    (line,) = await instance.recent(engine)
    assert line == instance.AuditEntry(
        at, "Chef", "setting", "signup_domains", "agri.gouv.fr", "agri.gouv.fr,mairie.fr"
    )
    # A second change updates the stored row; the log keeps both, newest first.
    later = instance.InstanceSettings((), True)
    assert await instance.change(engine, settings, 1, "Chef", later) == [
        "signup_domains",
        "signup_open",
    ]
    assert await instance.current(engine, settings) == later
    assert [e.subject for e in await instance.recent(engine)] == [
        "signup_open",
        "signup_domains",
        "signup_domains",
    ]


async def test_the_last_active_administrator_keeps_the_role(
    app: Starlette, make_user: MakeUser
) -> None:
    engine = app.state.engine
    first = await make_user("un@gouv.fr", role="admin")
    second = await make_user("deux@gouv.fr", role="admin")
    gone = await make_user("parti@gouv.fr", role="admin", status="deactivated")
    assert {a.id for a in await instance.admins(engine)} == {first, second}
    assert await instance.set_role(engine, second, "agent")
    assert not await instance.set_role(engine, first, "agent")  # a deactivated one does not count
    assert (await accounts.get_user(engine, first)).role == "admin"  # type: ignore[union-attr]
    assert await instance.set_role(engine, gone, "agent")
    assert await instance.set_role(engine, second, "admin")
    assert await instance.set_role(engine, first, "agent")


async def _two_admins_remove_each_other(app: Starlette) -> None:
    engine = app.state.engine
    first = await accounts.create_user(engine, email="un@gouv.fr", display_name="Un", role="admin")
    second = await accounts.create_user(
        engine, email="deux@gouv.fr", display_name="Deux", role="admin"
    )
    results = await asyncio.gather(
        instance.set_role(engine, first, "agent"), instance.set_role(engine, second, "agent")
    )
    assert sorted(results) == [False, True]
    assert len(await instance.admins(engine)) == 1


async def test_two_admins_removing_each_other_at_once_leave_one(app: Starlette) -> None:
    await _two_admins_remove_each_other(app)


@pytest.mark.postgres
async def test_two_admins_removing_each_other_at_once_leave_one_on_postgresql(
    postgres_database: str, make_app: Build
) -> None:
    await _two_admins_remove_each_other(await make_app(database_url=postgres_database))
