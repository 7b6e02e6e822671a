"""Meetings in Chromium: a space seeded with three agents and a guest link, the pre-join and
join steps, a guest knocking, and waiting until videos decode (tests/e2e/test_meeting_*.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import signed_in
from tests.support.people import PASSWORD, Who
from tests.support.servers import AtelierServer
from web.accounts.users import create_user
from web.database import create_engine, database_url
from web.spaces.access import Actor
from web.spaces.guest_links import create_guest_link
from web.spaces.services import add_member, create_space

MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--autoplay-policy=no-user-gesture-required",
]
MEDIA_TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Space:
    slug: str
    guest_token: str

    @property
    def meeting_url(self) -> str:
        return f"/espaces/{self.slug}/reunion"


async def seed_meeting_space(data_dir: Path) -> Space:
    engine = create_engine(database_url(data_dir.resolve(), None))
    try:
        ids = {}
        for email, name in [
            ("alice@agri.gouv.fr", "Alice Martin"),
            ("bob@agri.gouv.fr", "Bob Durand"),
            ("carole@agri.gouv.fr", "Carole Petit"),
        ]:
            ids[email] = await create_user(
                engine, email=email, display_name=name, password=PASSWORD
            )
        alice: Actor = Who(ids["alice@agri.gouv.fr"])
        space = await create_space(engine, alice, name="Projet Pont")
        await add_member(engine, alice, space.id, ids["bob@agri.gouv.fr"], "editor")
        await add_member(engine, alice, space.id, ids["carole@agri.gouv.fr"], "editor")
        link = await create_guest_link(engine, alice, space.id, role="reader", label="Prestataire")
        return Space(space.slug, link.token)
    finally:
        await engine.dispose()


def seed(server: AtelierServer) -> Space:
    # Playwright's sync API keeps an event loop on this thread: seed from another one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, seed_meeting_space(server.data_dir)).result()


def open_meeting(context: BrowserContext, path: str) -> Page:
    page = context.new_page()
    page.goto(path)
    # Ready once the camera and microphone answered: slow on a loaded machine.
    expect(page.locator("[data-meeting]")).to_have_attribute(
        "data-ready", "true", timeout=MEDIA_TIMEOUT_MS
    )
    return page


def join(page: Page) -> None:
    page.get_by_role("button", name="Rejoindre la réunion").click()
    expect(page.locator("[data-meeting]")).to_have_attribute("data-screen", "room")


def open_panel(page: Page, panel: str) -> None:
    """Open a side panel of the meeting ("people", "chat", "notes") from the bar."""
    toggle = page.locator(f'.meeting-bar button[data-panel="{panel}"]')
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")


def enter(browser: Browser, server: AtelierServer, space: Space, email: str) -> Page:
    page = open_meeting(signed_in(browser, server, email), space.meeting_url)
    join(page)
    return page


# framesDecoded of each inbound video of the page's subscribe connection, by stats id.
FRAMES_DECODED = """async () => {
  const pc = window.atelierMeeting?.subscriber?.pc;
  const frames = {};
  if (!pc) return frames;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames[s.id] = s.framesDecoded || 0;
  });
  return frames;
}"""

# The videos that decoded more frames than `before` says (a video not in it: more than none).
DECODING_SINCE = f"""async ([count, before]) => {{
  const now = await ({FRAMES_DECODED})();
  const decoding = Object.keys(now).filter((id) => now[id] > (before[id] ?? 0));
  return decoding.length >= count ? now : false;
}}"""


def wait_for_videos(page: Page, count: int, timeout: float = MEDIA_TIMEOUT_MS) -> None:
    """Wait until `count` inbound videos decode frames, then until `count` of them decode
    more (they keep decoding)."""
    seen: dict[str, int] = {}
    for step in ("decode frames", "keep decoding"):
        try:
            handle = page.wait_for_function(
                DECODING_SINCE, arg=[count, seen], timeout=timeout, polling=100
            )
        except PlaywrightTimeoutError:
            now = page.evaluate(FRAMES_DECODED)
            raise AssertionError(f"{count} videos do not {step}: framesDecoded {now}") from None
        seen = handle.json_value()


def knock_as_guest(browser: Browser, server: AtelierServer, space: Space, name: str) -> Page:
    context = browser.new_context(base_url=server.http_url)
    landing = context.new_page()
    landing.goto(f"/invite/{space.guest_token}")
    landing.get_by_label("Votre nom").fill(name)
    landing.get_by_role("button", name="Entrer").click()
    expect(landing).not_to_have_url(f"{server.http_url}/invite/{space.guest_token}")
    guest = open_meeting(context, space.meeting_url)
    guest.get_by_role("button", name="Rejoindre la réunion").click()
    expect(guest.locator("[data-meeting]")).to_have_attribute("data-screen", "lobby")
    return guest
