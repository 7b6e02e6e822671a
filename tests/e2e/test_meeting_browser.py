"""Meetings in Chromium with fake camera and microphone: people see each other, share a screen,
a guest waits in the lobby, a host mutes someone, and the meeting notes are co-edited.

Media stays on the machine: the SFU offers only 127.0.0.1 and no STUN server; Chromium's fake
devices feed the cameras and the screen capture.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import chromium, signed_in
from tests.support.meeting_pages import (
    MEDIA_ARGS,
    MEDIA_TIMEOUT_MS,
    Space,
    enter,
    join,
    knock_as_guest,
    open_meeting,
    open_panel,
    seed,
    seed_meeting_space,
    wait_for_videos,
)
from tests.support.ports import free_range
from tests.support.servers import AtelierServer
from tests.support.visio import LOOPBACK_ENV
from tests.support.waiting import eventually_blocking

pytestmark = pytest.mark.browser


@pytest.fixture
def space(server: AtelierServer) -> Space:
    return seed(server)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium with fake camera, microphone and screen (contexts are people)."""
    with chromium(*MEDIA_ARGS, bundle="meeting.js") as launched:
        yield launched


def test_three_participants_each_see_and_decode_the_other_two_videos(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    carole = enter(browser, server, space, "carole@agri.gouv.fr")
    for page in (alice, bob, carole):
        wait_for_videos(page, 2)
        expect(page.locator(".tile")).to_have_count(3)
        expect(page.get_by_role("button", name="Participants (3)")).to_be_visible()
    expect(alice.locator(".tile-name")).to_contain_text(
        ["Alice Martin (vous)", "Bob Durand", "Carole Petit"]
    )
    # Every remote tile shows a playing video with the sender's name.
    playing = """(tile) => { const v = tile.querySelector("video");
        return !!v && v.readyState >= 2 && v.videoWidth > 0; }"""
    for name in ("Alice Martin", "Carole Petit"):
        expect(bob.locator(f'.tile[aria-label="{name}"]')).to_have_count(1)
        bob.wait_for_function(
            f"""() => {{ const t = document.querySelector('.tile[aria-label="{name}"]');
            return t && ({playing})(t); }}""",
            timeout=MEDIA_TIMEOUT_MS,
        )
    quality = alice.locator("[data-part=quality]")
    expect(quality).to_have_attribute("data-quality", "good", timeout=MEDIA_TIMEOUT_MS)
    expect(quality).to_contain_text("Connexion : bonne")


SELECTED_PAIR = """async () => {
  const m = window.atelierMeeting;
  const out = [];
  for (const pc of [m?.publisher?.pc, m?.subscriber?.pc]) {
    if (!pc) continue;
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) {
        const pair = byId.get(s.selectedCandidatePairId);
        const local = byId.get(pair.localCandidateId);
        out.push([local?.address, byId.get(pair.remoteCandidateId)?.address]);
      }
    });
  }
  return out;
}"""


def both_pairs(pairs: list[list[str]]) -> list[list[str]]:
    """The selected pairs once both connections (publish, subscribe) have one, else none."""
    return pairs if len(pairs) == 2 else []


def is_own_address(address: str) -> bool:
    """Whether `address` belongs to this machine (a UDP socket can be bound to it)."""
    with socket.socket(
        socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM
    ) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


def test_media_flows_to_the_sfu_on_loopback_only(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    wait_for_videos(alice, 1)
    wait_for_videos(bob, 1)
    for page in (alice, bob):
        # Publish and subscribe: each connection reports its selected pair once it has one
        # (video may flow on one before the other's statistics say so).
        pairs = eventually_blocking(
            lambda: both_pairs(page.evaluate(SELECTED_PAIR)),  # noqa: B023 (called at once)
            timeout=30,
            what="a selected candidate pair on both connections",
        )
        for local, remote in pairs:
            # The SFU is reached at 127.0.0.1 only. Chromium never gathers loopback itself:
            # its end is one of this machine's own addresses, so nothing leaves the machine.
            assert remote == "127.0.0.1", pairs
            assert is_own_address(local), pairs


def test_a_shared_screen_appears_for_the_others_and_goes_when_stopped(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    wait_for_videos(bob, 1)
    share = alice.get_by_role("button", name="Partager l’écran")
    share.click()
    expect(share).to_have_attribute("aria-pressed", "true")
    screen = bob.locator('.tile[data-screen="true"]')
    expect(screen).to_have_attribute("aria-label", "Écran de Alice Martin")
    # Alice's camera and her screen: two videos decoded by Bob.
    wait_for_videos(bob, 2)
    bob.wait_for_function(
        """() => { const v = document.querySelector('.tile[data-screen="true"] video');
        return !!v && v.readyState >= 2 && v.videoWidth > 0; }""",
        timeout=MEDIA_TIMEOUT_MS,
    )
    share.click()
    expect(share).to_have_attribute("aria-pressed", "false")
    expect(screen).to_have_count(0)


def test_a_guest_waits_in_the_lobby_until_a_host_admits_them(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    guest_context = browser.new_context(base_url=server.http_url)
    landing = guest_context.new_page()
    landing.goto(f"/invite/{space.guest_token}")
    landing.get_by_label("Votre nom").fill("Claire (prestataire)")
    landing.get_by_role("button", name="Entrer").click()
    expect(landing).not_to_have_url(f"{server.http_url}/invite/{space.guest_token}")
    guest = open_meeting(guest_context, space.meeting_url)
    guest.get_by_role("button", name="Rejoindre la réunion").click()
    meeting = guest.locator("[data-meeting]")
    expect(meeting).to_have_attribute("data-screen", "lobby")
    expect(guest.get_by_role("heading", name="Salle d’attente")).to_be_visible()
    open_panel(alice, "people")
    # The host sees who waits; nobody in the meeting sees the guest yet: Bob, a member who
    # comes in after the guest knocked, appears to Alice, and the guest still does not.
    expect(alice.get_by_text("En salle d’attente : 1")).to_be_visible()
    enter(browser, server, space, "bob@agri.gouv.fr")
    expect(alice.locator(".tile")).to_have_count(2)
    expect(alice.locator('.tile[aria-label="Bob Durand"]')).to_have_count(1)
    expect(meeting).to_have_attribute("data-screen", "lobby")
    alice.get_by_role("button", name="Faire entrer Claire (prestataire)").click()
    expect(meeting).to_have_attribute("data-screen", "room")
    expect(alice.locator('.tile[aria-label="Claire (prestataire)"]')).to_have_count(1)
    wait_for_videos(alice, 1)
    wait_for_videos(guest, 1)
    expect(alice.locator("[data-part=lobby-box]")).to_be_hidden()
    # Guests get no host controls.
    expect(guest.get_by_role("button", name="Terminer pour tous")).to_be_hidden()


def test_a_host_mutes_a_participant_whose_microphone_turns_off(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    mic = bob.get_by_role("button", name="Microphone", exact=True)
    expect(mic).to_have_attribute("aria-pressed", "true")
    expect(bob.locator("[data-meeting]")).to_have_attribute("data-published", "true")
    # Members get no host controls.
    open_panel(bob, "people")
    open_panel(alice, "people")
    expect(bob.get_by_role("button", name="Couper tous les micros")).to_be_hidden()
    expect(bob.get_by_role("button", name="Couper le micro de Alice Martin")).to_have_count(0)
    mute = alice.get_by_role("button", name="Couper le micro de Bob Durand")
    expect(mute).to_be_enabled()
    mute.focus()
    alice.keyboard.press("Enter")
    expect(mic).to_have_attribute("aria-pressed", "false")
    assert bob.evaluate(
        "() => window.atelierMeeting.publisher.pc.getSenders()"
        ".filter((s) => s.track && s.track.kind === 'audio').every((s) => !s.track.enabled)"
    )
    bob_tile = alice.locator('.tile[aria-label="Bob Durand"]')
    expect(bob_tile).to_have_attribute("data-mic-muted", "true")
    expect(bob_tile).to_contain_text("micro coupé")
    expect(bob.get_by_text("Un hôte a coupé votre micro.")).to_be_attached()
    # Bob may turn it back on himself.
    mic.click()
    expect(mic).to_have_attribute("aria-pressed", "true")
    expect(bob_tile).to_have_attribute("data-mic-muted", "false")


def test_hands_reactions_and_chat_reach_everyone(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    hand = bob.get_by_role("button", name="Lever la main")
    hand.click()
    expect(hand).to_have_attribute("aria-pressed", "true")
    expect(alice.locator('.tile[aria-label="Bob Durand"]')).to_contain_text("main levée")
    bob.get_by_role("button", name="Réagir", exact=True).click()
    bob.get_by_role("button", name="Réagir : 👏").click()
    expect(alice.locator(".reaction")).to_have_text("Bob Durand : 👏")
    alice.get_by_role("button", name="Discussion").click()
    bob.get_by_role("button", name="Discussion").click()
    message = alice.get_by_role("textbox", name="Message")
    message.fill("Bonjour à tous")
    message.press("Enter")
    expect(bob.locator("[data-part=chat-log]")).to_contain_text("Alice Martin Bonjour à tous")


def test_meeting_notes_typed_by_one_appear_for_the_others(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    pages = [
        enter(browser, server, space, email)
        for email in ("alice@agri.gouv.fr", "bob@agri.gouv.fr", "carole@agri.gouv.fr")
    ]
    for page in pages:
        open_panel(page, "notes")
        expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
        expect(page.get_by_role("heading", name="Notes de réunion")).to_be_visible()
    pages[0].get_by_role("textbox", name="Notes de réunion").click()
    pages[0].keyboard.type("Décision : on valide le budget.")
    for page in pages[1:]:
        expect(page.get_by_role("textbox", name="Notes de réunion")).to_contain_text(
            "Décision : on valide le budget."
        )
    link = pages[1].locator(".notes-panel a").first
    expect(link).to_have_text(re.compile(r"^Notes de réunion — \d{4}-\d{2}-\d{2}$"))


def test_a_host_refuses_a_guest_removes_a_member_and_ends_the_meeting_for_all(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    carole = enter(browser, server, space, "carole@agri.gouv.fr")
    guest = knock_as_guest(browser, server, space, "Dan Intrus")
    open_panel(alice, "people")
    alice.get_by_role("button", name="Refuser Dan Intrus").click()
    expect(guest.locator("[data-part=ended-reason]")).to_have_text(
        "Un hôte n’a pas accepté votre entrée."
    )
    expect(guest.get_by_role("heading", name="Vous n’êtes plus dans la réunion")).to_be_focused()

    alice.get_by_role("button", name="Retirer Bob Durand").click()
    expect(bob.locator("[data-part=ended-reason]")).to_have_text(
        "Un hôte vous a retiré de la réunion."
    )
    expect(carole.locator(".tile")).to_have_count(2)
    expect(carole.get_by_role("button", name="Participants (2)")).to_be_visible()

    alice.get_by_role("button", name="Terminer pour tous").click()
    for page in (alice, carole):
        expect(page.locator("[data-part=ended-reason]")).to_have_text("La réunion est terminée.")
    # Leaving stops the camera and the microphone.
    assert carole.evaluate("() => window.atelierMeeting.publisher.pc.connectionState") == "closed"


def test_participants_rejoin_by_themselves_after_the_server_restarts(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    wait_for_videos(alice, 1)
    server.restart()
    for page in (alice, bob):
        expect(page.locator("[data-meeting]")).to_have_attribute(
            "data-reconnecting", "false", timeout=MEDIA_TIMEOUT_MS
        )
        expect(page.locator("[data-meeting]")).to_have_attribute("data-screen", "room")
        expect(page.locator(".tile")).to_have_count(2)
    wait_for_videos(alice, 1)
    wait_for_videos(bob, 1)


def test_a_full_meeting_server_says_so_retries_and_lets_people_in_once_ports_free_up(
    browser: Browser, atelier: Callable[..., AtelierServer]
) -> None:
    # Two UDP ports: Alice's publish and subscribe connections take both.
    low, high = free_range(2)
    server = atelier(**LOOPBACK_ENV, ATELIER_VISIO_UDP_PORTS=f"{low}-{high}")
    space = seed(server)
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    expect(alice.locator("[data-meeting]")).to_have_attribute("data-published", "true")

    bob = open_meeting(signed_in(browser, server, "bob@agri.gouv.fr"), space.meeting_url)
    bob.get_by_role("button", name="Rejoindre la réunion").click()
    meeting = bob.locator("[data-meeting]")
    expect(meeting).to_have_attribute("data-reconnecting", "true", timeout=MEDIA_TIMEOUT_MS)
    expect(bob.locator("[data-part=connecting-status]")).to_have_text(
        "Le serveur de réunion est complet pour le moment : nouvelle tentative…"
    )
    expect(bob.get_by_role("status").filter(has_text="complet")).to_be_visible()

    # Alice leaves: her ports are free, and Bob's next attempt gets in by itself.
    alice.get_by_role("button", name="Quitter").click()
    expect(meeting).to_have_attribute("data-screen", "room", timeout=MEDIA_TIMEOUT_MS)
    expect(meeting).to_have_attribute("data-reconnecting", "false")
    expect(meeting).to_have_attribute("data-published", "true", timeout=MEDIA_TIMEOUT_MS)
    expect(bob.locator(".tile-name")).to_have_text(["Bob Durand (vous)"])


def test_the_meeting_is_in_english_on_request_and_usable_with_the_keyboard(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    context = signed_in(browser, server, "alice@agri.gouv.fr")
    context.add_cookies([{"name": "atelier_langue", "value": "en", "url": server.http_url}])
    page = open_meeting(context, space.meeting_url)
    expect(page.get_by_label("Camera", exact=True)).to_be_visible()
    expect(page.get_by_label("Microphone", exact=True)).to_be_visible()
    join_button = page.get_by_role("button", name="Join the meeting")
    join_button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-meeting]")).to_have_attribute("data-screen", "room")
    expect(page.locator(".tile-name")).to_have_text("Alice Martin (you)")
    camera = page.get_by_role("button", name="Camera", exact=True)
    camera.focus()
    page.keyboard.press("Space")
    expect(camera).to_have_attribute("aria-pressed", "false")
    expect(page.locator(".tile")).to_have_attribute("data-camera-off", "true")
    view = page.get_by_role("button", name="Speaker view")
    view.focus()
    page.keyboard.press("Enter")
    expect(view).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".tile")).to_have_attribute("data-featured", "true")
    expect(page.locator("[data-part=quality]")).to_contain_text(
        "Connection: good", timeout=MEDIA_TIMEOUT_MS
    )


def test_the_pre_join_screen_lists_the_devices_previews_the_camera_and_may_join_without_it(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    page = open_meeting(signed_in(browser, server, "alice@agri.gouv.fr"), space.meeting_url)
    cameras = page.get_by_label("Caméra", exact=True)
    microphones = page.get_by_label("Microphone", exact=True)
    expect(cameras.locator("option")).not_to_have_count(0)
    expect(cameras.locator("option").last).to_have_text("Sans caméra")
    expect(microphones.locator("option").last).to_have_text("Sans micro")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-part=preview]');"
        " return v.readyState >= 2 && v.videoWidth > 0; }"
    )
    cameras.select_option(label="Sans caméra")
    expect(page.locator("[data-meeting]")).to_have_attribute("data-preview", "false")
    join(page)
    expect(page.get_by_role("button", name="Caméra", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Microphone", exact=True)).to_be_enabled()
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    alice_tile = bob.locator('.tile[aria-label="Alice Martin"]')
    expect(alice_tile).to_have_attribute("data-camera-off", "true")
    expect(alice_tile).to_contain_text("caméra coupée")


def test_the_active_speaker_is_highlighted_for_the_others(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    # Alice goes quiet: Bob's fake microphone (a beep) is the only sound left.
    alice.get_by_role("button", name="Microphone", exact=True).click()
    speaking = alice.locator('.tile[aria-label="Bob Durand"]')
    expect(speaking).to_have_attribute("data-speaking", "true", timeout=MEDIA_TIMEOUT_MS)
    expect(speaking).to_contain_text("parle")
    expect(bob.locator('.tile[aria-label="Bob Durand (vous)"]')).to_have_attribute(
        "data-speaking", "true"
    )


def test_a_pinned_tile_gets_video_beyond_the_last_speakers(
    browser: Browser, atelier: Callable[..., AtelierServer]
) -> None:
    # The SFU forwards camera video of the last speaker only: pinning adds the pinned one.
    server = atelier(**LOOPBACK_ENV, ATELIER_VISIO_LAST_N="1")
    with ThreadPoolExecutor(1) as pool:
        space = pool.submit(asyncio.run, seed_meeting_space(server.data_dir)).result()
    alice = enter(browser, server, space, "alice@agri.gouv.fr")
    bob = enter(browser, server, space, "bob@agri.gouv.fr")
    carole = enter(browser, server, space, "carole@agri.gouv.fr")
    for page in (alice, carole):
        page.get_by_role("button", name="Microphone", exact=True).click()
    expect(alice.locator('.tile[aria-label="Bob Durand"]')).to_have_attribute(
        "data-speaking", "true", timeout=MEDIA_TIMEOUT_MS
    )
    carole_video = alice.locator('.tile[aria-label="Carole Petit"] video')
    expect(carole_video).to_have_attribute("data-track", "", timeout=MEDIA_TIMEOUT_MS)
    pin = alice.get_by_role("button", name="Épingler Carole Petit")
    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(carole_video).not_to_have_attribute("data-track", "", timeout=MEDIA_TIMEOUT_MS)
    wait_for_videos(alice, 2)
    alice.wait_for_function(
        """() => { const v = document.querySelector('.tile[aria-label="Carole Petit"] video');
        return !!v && v.readyState >= 2 && v.videoWidth > 0; }""",
        timeout=MEDIA_TIMEOUT_MS,
    )
    assert bob
