"""A space made on a live server's own database before a browser test: Alice owns "Projet
Pont", Bob edits it, its "Compte rendu" page under "Accueil" has a reader guest link."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.people import PASSWORD, Who
from web.accounts.users import create_user
from web.database import create_engine, database_url
from web.spaces.guest_links import create_guest_link
from web.spaces.services import add_member, create_space
from web.spaces.tree import create_page


@dataclass(frozen=True)
class Space:
    slug: str
    home_id: int
    notes_id: int
    guest_token: str

    @property
    def notes_url(self) -> str:
        return f"/espaces/{self.slug}/pages/{self.notes_id}"


async def seed_space(data_dir: Path) -> Space:
    """Make the accounts, the space, its pages and the guest link in `data_dir`'s database."""
    engine = create_engine(database_url(data_dir.resolve(), None))
    try:
        alice = Who(
            await create_user(
                engine, email="alice@agri.gouv.fr", display_name="Alice Martin", password=PASSWORD
            )
        )
        bob = await create_user(
            engine, email="bob@agri.gouv.fr", display_name="Bob Durand", password=PASSWORD
        )
        space = await create_space(engine, alice, name="Projet Pont")
        await add_member(engine, alice, space.id, bob, "editor")
        home = await create_page(engine, alice, space.id, "Accueil")
        notes = await create_page(engine, alice, space.id, "Compte rendu", parent_id=home.id)
        link = await create_guest_link(
            engine, alice, space.id, role="reader", page_id=notes.id, label="Prestataire"
        )
        return Space(space.slug, home.id, notes.id, link.token)
    finally:
        await engine.dispose()


async def add_person(data_dir: Path, slug: str, email: str, name: str, role: str) -> int:
    """One more member of the seeded space (Alice adds them), signed in with PASSWORD; their id."""
    from web.accounts.users import find_by_email
    from web.spaces.services import space_by_slug

    engine = create_engine(database_url(data_dir.resolve(), None))
    try:
        person = await create_user(engine, email=email, display_name=name, password=PASSWORD)
        alice = await find_by_email(engine, "alice@agri.gouv.fr")
        space = await space_by_slug(engine, slug)
        assert alice is not None and space is not None
        await add_member(engine, Who(alice.id), space.id, person, role)
        return int(person)
    finally:
        await engine.dispose()
