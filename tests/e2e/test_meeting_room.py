"""The meeting as people see it in Chromium: the room fills the window and its tiles follow the
count, focus lands on the controls after joining, a knocking guest is announced to the host
(badge, notice with "Admettre", a sound), chat times are the wall clock, someone else's shared
screen is shown large, and on a phone the bar with "Quitter" stays on screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chromium, signed_in
from tests.support.meeting_pages import (
    MEDIA_ARGS,
    Space,
    join,
    knock_as_guest,
    open_meeting,
    open_panel,
    seed,
)
from tests.support.servers import AtelierServer
from tests.support.tour import AXE

pytestmark = pytest.mark.browser

PARIS = "Europe/Paris"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Counts the notes the page plays through WebAudio (the knock sound is two).
COUNT_TONES = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""
# axe-core's serious and critical violations on the page as it is now.
SERIOUS = """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
  .filter((v) => v.impact === "serious" || v.impact === "critical")
  .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)"""
# The browser's own wall clock, as the chat writes times (hours and minutes, French).
WALL_CLOCK = """() => new Date().toLocaleTimeString("fr", { hour: "2-digit", minute: "2-digit" })"""


@pytest.fixture
def space(server: AtelierServer) -> Space:
    return seed(server)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium(*MEDIA_ARGS, bundle="meeting.js") as launched:
        yield launched


def person(
    browser: Browser, server: AtelierServer, space: Space, email: str, **options: object
) -> Page:
    context = signed_in(browser, server, email, timezone_id=PARIS, **options)
    context.add_init_script(COUNT_TONES)
    context.add_init_script(path=str(AXE))
    return open_meeting(context, space.meeting_url)


def within_viewport(page: Page, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
            return r.width > 0 && r.top >= 0 && r.left >= 0
              && r.bottom <= window.innerHeight && r.right <= window.innerWidth; }""",
            selector,
        )
    )


def test_a_host_meets_a_member_admits_a_knocking_guest_from_the_notice_and_chats(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = person(browser, server, space, "alice@agri.gouv.fr", viewport=LAPTOP)
    join(alice)
    # The keyboard starts on the meeting's controls, not at the top of the page.
    expect(alice.get_by_role("button", name="Microphone", exact=True)).to_be_focused()
    stage = alice.locator("[data-part=stage]")
    expect(stage).to_have_attribute("data-columns", "1")
    # The room is the window: the stage fills it above the bar.
    box = stage.bounding_box()
    assert box and box["width"] > 1000 and box["height"] > 550, box

    bob = person(browser, server, space, "bob@agri.gouv.fr", viewport=PHONE)
    join(bob)
    expect(alice.locator(".tile")).to_have_count(2)
    expect(stage).to_have_attribute("data-columns", "2")
    first, second = (t.bounding_box() for t in alice.locator(".tile").all())
    assert first and second and first["y"] == second["y"] and first["width"] > 500, (first, second)

    # On a phone the bar is on screen, "Quitter" included, even with a panel open.
    for _ in ("stage", "panel"):
        assert within_viewport(bob, ".meeting-bar"), "the bar is off screen"
        assert within_viewport(bob, "button[data-action=leave]"), "Quitter is off screen"
        open_panel(bob, "chat")
    expect(bob.get_by_role("heading", name="Discussion")).to_be_visible()

    # A guest knocks: Alice, in no panel, is told by a count, a notice and a sound.
    guest = knock_as_guest(browser, server, space, "Claire (prestataire)")
    people = alice.locator('.meeting-bar button[data-panel="people"]')
    expect(people).to_contain_text("1")
    expect(people).to_have_accessible_name("Participants (2) — 1 en salle d’attente")
    notice = alice.locator(".meeting-toast")
    expect(notice).to_contain_text("Claire (prestataire) demande à entrer")
    alice.wait_for_function("() => window.__tones === 2")
    expect(alice.locator("[data-panel-box=people]")).to_be_hidden()
    # The room, its bar, the notice and a phone's open panel pass axe-core.
    assert alice.evaluate(SERIOUS) == []
    assert bob.evaluate(SERIOUS) == []
    notice.get_by_role("button", name="Admettre").click()
    expect(guest.locator("[data-meeting]")).to_have_attribute("data-screen", "room")
    expect(notice).to_have_count(0)
    expect(people).to_have_accessible_name("Participants (3)")
    expect(alice.locator(".tile")).to_have_count(3)

    # Chat times are the time of day on the reader's clock (Paris here), not a timer.
    open_panel(alice, "chat")
    before = alice.evaluate(WALL_CLOCK)
    message = alice.get_by_role("textbox", name="Message")
    message.fill("Bonjour à tous")
    message.press("Enter")
    line = bob.locator("[data-part=chat-log] li").last
    expect(line).to_contain_text("Alice Martin Bonjour à tous")
    after = bob.evaluate(WALL_CLOCK)
    assert line.locator("time").inner_text() in {before, after}

    # Turned off, the sound stays off (a preference of this browser).
    open_panel(alice, "people")
    alice.get_by_label("Son quand quelqu’un attend en salle d’attente (sur cet appareil)").uncheck()
    knock_as_guest(browser, server, space, "Dan (prestataire)")
    expect(alice.locator(".meeting-toast")).to_contain_text("Dan (prestataire) demande à entrer")
    assert alice.evaluate("window.__tones") == 2


def test_someone_elses_shared_screen_is_shown_large_and_may_go_back_to_the_grid(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = person(browser, server, space, "alice@agri.gouv.fr", viewport=LAPTOP)
    join(alice)
    bob = person(browser, server, space, "bob@agri.gouv.fr", viewport=LAPTOP)
    join(bob)
    expect(alice.locator(".tile")).to_have_count(2)
    alice.get_by_role("button", name="Partager l’écran").click()
    screen = bob.locator('.tile[data-screen="true"]')
    expect(screen).to_have_attribute("data-featured", "true")
    expect(bob.locator("[data-part=stage]")).to_have_attribute("data-layout", "spotlight")
    large, small = (
        screen.bounding_box(),
        bob.locator('.tile[aria-label="Alice Martin"]').bounding_box(),
    )
    assert large and small and large["width"] > 3 * small["width"], (large, small)
    # The sharer sees her own screen in the grid, and may put it large herself.
    expect(alice.locator("[data-part=stage]")).to_have_attribute("data-layout", "grid")
    expect(alice.locator('.tile[data-screen="true"]')).to_have_attribute("data-featured", "false")
    back = bob.get_by_role("button", name="Revenir à la mosaïque : Écran de Alice Martin")
    back.click()
    expect(bob.locator("[data-part=stage]")).to_have_attribute("data-layout", "grid")
    expect(screen).to_have_attribute("data-featured", "false")
    bob.get_by_role("button", name="Afficher en grand : Écran de Alice Martin").click()
    expect(screen).to_have_attribute("data-featured", "true")
