"""The directory of people: search by name, email, organisation and space; profiles."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.people import Who, add_user
from web.spaces import directory, services
from web.spaces.errors import Forbidden, NotFound


async def _people(engine: AsyncEngine) -> dict[str, Who]:
    return {
        "ana": await add_user(
            engine, "Ana Lopez", email="ana@finances.gouv.fr", organisation="DGFiP"
        ),
        "ben": await add_user(
            engine, "Ben Martin", email="ben@interieur.gouv.fr", organisation="DGCL"
        ),
        "guest": await add_user(engine, "Gus Invité", role="guest", email="gus@ext.fr"),
        "pending": await add_user(engine, "Pat Attente", status="pending"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ana", ["Ana Lopez"]),
        ("interieur", ["Ben Martin"]),
        ("dgfip", ["Ana Lopez"]),
        ("lopez dgfip", ["Ana Lopez"]),
        ("", ["Ana Lopez", "Ben Martin"]),
        ("%", []),
    ],
)
async def test_agents_are_found_by_name_email_and_organisation(
    engine: AsyncEngine, query: str, expected: list[str]
) -> None:
    people = await _people(engine)
    found = await directory.search_people(engine, people["ana"], query)
    # Guests and people awaiting approval are not in the directory.
    assert [p.display_name for p in found] == expected


async def test_agents_are_found_by_a_space_the_viewer_may_see(engine: AsyncEngine) -> None:
    people = await _people(engine)
    ana, ben = people["ana"], people["ben"]
    viewer = await add_user(engine, "Viewer")
    listed = await services.create_space(engine, ana, name="Réseau Cloud", visibility="listed")
    await services.create_space(engine, ben, name="Cellule secrète")
    assert listed.id
    assert [p.display_name for p in await directory.search_people(engine, viewer, "cloud")] == [
        "Ana Lopez"
    ]
    assert await directory.search_people(engine, viewer, "secrète") == []
    assert [p.display_name for p in await directory.search_people(engine, ben, "secrète")] == [
        "Ben Martin"
    ]


async def test_a_profile_shows_spaces_in_common_only(engine: AsyncEngine) -> None:
    people = await _people(engine)
    ana, ben = people["ana"], people["ben"]
    shared = await services.create_space(engine, ana, name="Commun")
    await services.add_member(engine, ana, shared.id, ben.id, "reader")
    await services.create_space(engine, ana, name="À Ana seule")
    profile = await directory.profile(engine, ben, ana.id)
    assert profile.person.organisation == "DGFiP"
    assert [s.name for s in profile.spaces_in_common] == ["Commun"]


async def test_guests_cannot_browse_the_directory(engine: AsyncEngine) -> None:
    people = await _people(engine)
    with pytest.raises(Forbidden):
        await directory.search_people(engine, people["guest"], "")
    with pytest.raises(Forbidden):
        await directory.profile(engine, Who(people["ana"].id, "agent", 3), people["ben"].id)


async def test_guest_profiles_are_not_shown(engine: AsyncEngine) -> None:
    people = await _people(engine)
    with pytest.raises(NotFound):
        await directory.profile(engine, people["ana"], people["guest"].id)


async def test_control_characters_in_a_search_are_ignored(engine: AsyncEngine) -> None:
    people = await _people(engine)
    found = await directory.search_people(engine, people["ana"], "an\x00a")
    assert [p.display_name for p in found] == ["Ana Lopez"]
    assert await services.listed_spaces(engine, people["ana"], "\x00") == []
    assert await services.space_by_slug(engine, "a\x00b") is None
