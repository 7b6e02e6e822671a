"""A tour of Atelier's main pages, shared by the accessibility test and the screenshots script
(bench/screenshots.py): an instance seeded with a space, its pages, members, a guest link, a
version and waiting registrations; who looks at each page; the two screen sizes.

Alice administers the instance and owns "Projet Pont"; Bob edits it, Carol reads it; a partner
comes in by the guest link of its "Compte rendu" page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import surface
from tests.support.people import PASSWORD, Who
from tests.support.servers import ROOT, AtelierServer
from web.accounts.instance import record
from web.accounts.users import create_user
from web.database import create_engine, database_url
from web.spaces.guest_links import create_guest_link, revoke_guest_link
from web.spaces.services import add_member, create_space
from web.spaces.tree import create_page

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = {"ordinateur": LAPTOP, "telephone": PHONE}
# The meeting's pre-join page asks for a camera: Chromium's stand-ins, never a real device.
MEDIA_ARGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

ALICE = "alice@agri.gouv.fr"
CAROL = "carol@agri.gouv.fr"


@dataclass(frozen=True)
class Stop:
    """One page of the tour: a name (for files and test ids), its address (with the world's
    `{slug}`, `{notes}`... filled in), who looks at it, whether it holds the editor, the status
    it answers, and what shows once its script is ready."""

    name: str
    path: str
    who: str  # "visiteur", "alice" (admin and owner), "carol" (reader), "invite" (guest link)
    editor: bool = False
    status: int = 200
    ready: str = ""  # a selector shown once the page's script has done its part
    opens: str = ""  # a button clicked once the page is loaded (a dialog's), before `ready`


STOPS = (
    Stop("connexion", "/connexion", "visiteur"),
    Stop("inscription", "/inscription", "visiteur"),
    Stop("mot-de-passe-oublie", "/mot-de-passe-oublie", "visiteur"),
    Stop("lien-invite", "/invite/{guest_token}", "visiteur"),
    Stop("espaces", "/espaces", "alice"),
    Stop("nouvel-espace", "/espaces/nouveau", "alice"),
    Stop("espace", "/espaces/{slug}", "alice"),
    Stop("espace-vide", "/espaces/{empty_slug}", "alice"),
    Stop("membres", "/espaces/{slug}/membres", "alice"),
    Stop("liens", "/espaces/{slug}/liens", "alice"),
    Stop("organiser", "/espaces/{slug}/organiser", "alice"),
    Stop("corbeille", "/espaces/{slug}/corbeille", "alice"),
    Stop("parametres", "/espaces/{slug}/parametres", "alice"),
    Stop("partager-espace", "/espaces/{slug}/partager", "alice"),
    Stop("partager-page", "/espaces/{slug}/pages/{notes}/partager", "alice"),
    Stop(
        "partager-dialogue",
        "/espaces/{slug}/pages/{notes}",
        "alice",
        editor=True,
        opens="a[data-share-open]",
        ready="dialog[data-share-dialog][open] h1",
    ),
    Stop("lien-revoque", "/invite/{revoked_token}", "visiteur", status=410),
    Stop("page-editeur", "/espaces/{slug}/pages/{notes}", "alice", editor=True),
    Stop("page-lecteur", "/espaces/{slug}/pages/{notes}", "carol", editor=True),
    Stop("page-invite", "/espaces/{slug}/pages/{notes}", "invite", editor=True),
    Stop("versions", "/espaces/{slug}/pages/{notes}/versions", "alice"),
    Stop("version", "/espaces/{slug}/pages/{notes}/versions/{version}", "alice"),
    Stop("recherche", "/recherche?q=budget", "alice"),
    Stop("annuaire", "/annuaire", "alice"),
    Stop("profil", "/annuaire/{bob}", "alice"),
    Stop("compte", "/compte", "alice"),
    Stop("notifications", "/notifications", "carol"),
    Stop("admin-comptes", "/admin/comptes", "alice"),
    Stop("admin-inscriptions", "/admin/inscriptions", "alice"),
    Stop("admin-courriels", "/admin/courriels", "alice"),
    Stop("admin-reglages", "/admin/reglages", "alice"),
    Stop("reunion", "/espaces/{slug}/reunion", "alice", ready="[data-action=join]:enabled"),
    Stop("erreur-404", "/espaces/{slug}/pages/999999", "alice", status=404),
    Stop("erreur-403", "/espaces/{slug}/parametres", "carol", status=403),
)


@dataclass
class World:
    """What the seeding made: the addresses' parts, filled in by `seed` and `write_content`."""

    slug: str
    empty_slug: str
    notes: int
    bob: int
    guest_token: str
    revoked_token: str = ""
    version: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def path(self, stop: Stop) -> str:
        return stop.path.format(
            slug=self.slug,
            empty_slug=self.empty_slug,
            notes=self.notes,
            bob=self.bob,
            guest_token=self.guest_token,
            revoked_token=self.revoked_token,
            version=self.version,
        )


async def _seed(data_dir: Path) -> World:
    engine = create_engine(database_url(data_dir.resolve(), None))
    try:
        alice = Who(
            await create_user(
                engine, email=ALICE, display_name="Alice Martin", password=PASSWORD, role="admin"
            ),
            role="admin",
        )
        bob = await create_user(
            engine,
            email="bob@agri.gouv.fr",
            display_name="Bob Durand",
            password=PASSWORD,
            organisation="Direction du numérique",
        )
        carol = await create_user(
            engine, email=CAROL, display_name="Carol Petit", password=PASSWORD
        )
        for n, name in enumerate(("Paul Lefèvre", "Nadia Benali")):
            await create_user(
                engine,
                email=f"attente{n}@exemple.org",
                display_name=name,
                password=PASSWORD,
                status="pending",
                organisation="Association Ponts et Chaussées",
            )
        space = await create_space(
            engine,
            alice,
            name="Projet Pont",
            description="<p>Rénovation du <strong>pont de la Rivière</strong> : suivi du chantier, "
            "comptes rendus et budget.</p>",
        )
        empty = await create_space(
            engine, alice, name="Communauté des archivistes", kind="community"
        )
        await add_member(engine, alice, space.id, bob, "editor")
        await add_member(engine, alice, space.id, carol, "reader")
        home = await create_page(engine, alice, space.id, "Accueil")
        notes = await create_page(engine, alice, space.id, "Compte rendu", parent_id=home.id)
        await create_page(engine, alice, space.id, "Budget")
        await create_page(engine, alice, space.id, "Planning des travaux", parent_id=home.id)
        link = await create_guest_link(
            engine, alice, space.id, role="reader", page_id=notes.id, label="Prestataire"
        )
        # The administrators' log has a line to show.
        await record(
            engine,
            alice.id,
            "Alice Martin",
            "setting",
            subject="signup_domains",
            before="gouv.fr",
            after="gouv.fr,exemple.org",
        )
        revoked = await create_guest_link(
            engine, alice, space.id, role="reader", page_id=notes.id, label="Ancien prestataire"
        )
        await revoke_guest_link(engine, alice, revoked.link.id)
        return World(space.slug, empty.slug, notes.id, bob, link.token, revoked.token)
    finally:
        await engine.dispose()


def seed(server: AtelierServer) -> World:
    """Seed the server's own database (from another thread: Playwright's loop owns this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _seed(server.data_dir)).result()


class Visitors:
    """One browser context per person of the tour, signed in once; pages are opened in them."""

    def __init__(
        self, browser: Browser, server: AtelierServer, world: World, *, init_script: str = ""
    ) -> None:
        self.browser = browser
        self.server = server
        self.world = world
        self.init_script = init_script  # a file every page runs first (axe-core, for the test)
        self.contexts: dict[str, BrowserContext] = {}

    def context(self, who: str) -> BrowserContext:
        if who not in self.contexts:
            self.contexts[who] = self._open(who)
        return self.contexts[who]

    def _open(self, who: str) -> BrowserContext:
        if who == "visiteur":
            context = self.browser.new_context(base_url=self.server.http_url)
        elif who == "invite":
            context = self.browser.new_context(base_url=self.server.http_url)
            page = context.new_page()
            page.goto(f"/invite/{self.world.guest_token}")
            page.get_by_label("Votre nom").fill("Claire (prestataire)")
            page.get_by_role("button", name="Entrer", exact=True).click()
            expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
            page.close()
        else:
            context = signed_in(self.browser, self.server, ALICE if who == "alice" else CAROL)
        if self.init_script:
            context.add_init_script(path=self.init_script)
        return context

    def visit(self, stop: Stop, size: dict[str, int]) -> Page:
        """The stop's page at this size, loaded (the editor synchronised when it has one)."""
        page = self.context(stop.who).new_page()
        page.set_viewport_size(size)  # type: ignore[arg-type]
        response = page.goto(self.world.path(stop))
        assert response is not None and response.status == stop.status, (
            f"{stop.name}: {response and response.status}\n{self.server.log()[-2000:]}"
        )
        if stop.editor:
            expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
            expect(page.locator("[data-connection-status]")).not_to_have_attribute(
                "data-state", "syncing"
            )
        if stop.opens:
            page.locator(stop.opens).click()
        if stop.ready:
            expect(page.locator(stop.ready)).to_be_visible()
        page.wait_for_load_state("networkidle")
        return page

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


def write_content(visitors: Visitors) -> None:
    """Alice writes the minutes (a heading, text, a checklist) and names a version of them."""
    world = visitors.world
    page = visitors.context("alice").new_page()
    page.goto(f"/espaces/{world.slug}/pages/{world.notes}")
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    surface(page).click()
    keyboard = page.keyboard
    keyboard.type("## Réunion de chantier du 3 mars\n")
    keyboard.type("Présents : Alice, Bob et le bureau d’études. Le budget est tenu.\n")
    keyboard.type("[ ] Relire le devis de la charpente\nCommander les garde-corps\n")
    expect(page.get_by_role("status")).to_have_text("Enregistré")
    page.goto(f"/espaces/{world.slug}/pages/{world.notes}/versions")
    page.get_by_label("Nom de la version").fill("Avant la réunion")
    page.get_by_role("button", name="Nommer cette version").click()
    link = page.get_by_role("link", name="Avant la réunion")
    world.version = int((link.get_attribute("href") or "").rsplit("/", 1)[-1])
    # A mail in the administrators' outbox: a forgotten password.
    page.goto("/mot-de-passe-oublie")
    page.get_by_label("Adresse électronique").fill("bob@agri.gouv.fr")
    page.get_by_role("button", name="Recevoir le lien").click()
    page.close()


def every_stop() -> Iterator[tuple[Stop, str]]:
    """Each stop at each size, laptop first."""
    for size in SIZES:
        for stop in STOPS:
            yield stop, size
