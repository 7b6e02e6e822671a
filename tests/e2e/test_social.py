"""The social layer in Chromium: recommend, the header's bell, the comments panel with its
highlights on the page's words, for members and a reader guest.

Alice owns "Projet Pont", Bob edits it, Carol comments in it (tests.support.space_seeds);
each is a browser context signed in through the sign-in form.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, surface, type_at_end, type_at_start
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space, add_person

pytestmark = pytest.mark.browser

CAROL = "carol@agri.gouv.fr"


def _add_carol(server: AtelierServer, space: Space) -> int:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(
            asyncio.run, add_person(server.data_dir, space.slug, CAROL, "Carol Petit", "commenter")
        ).result()


# Selects a word of the page's text in the editor (as a double click would).
SELECT_WORD = """(word) => {
  const { editor } = window.atelier;
  let found = null;
  editor.state.doc.descendants((node, pos) => {
    const at = node.isText ? node.text.indexOf(word) : -1;
    if (found === null && at >= 0) found = pos + at;
  });
  editor.chain().focus().setTextSelection({ from: found, to: found + word.length }).run();
}"""


def _bell(page: Page):
    return page.locator("header .fr-header__tools [data-bell]")


def test_recommend_and_the_bell_update_live(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    _add_carol(server, space)
    carol = open_page(signed_in(browser, server, CAROL), space.notes_url)
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications")

    # Carol recommends the page: Bob's count follows, live.
    recommend = carol.get_by_role("button", name="Recommander")
    expect(recommend).to_have_attribute("aria-pressed", "false")
    recommend.click()
    expect(recommend).to_have_attribute("aria-pressed", "true")
    expect(carol.locator("[data-recommend-who]")).to_have_text("Recommandé par vous")
    expect(bob.locator("[data-recommend-who]")).to_have_text("Recommandé par Carol Petit")
    recommend.click()
    expect(bob.locator("[data-recommend-who]")).to_have_text("Aucune recommandation")

    # Bob mentions Carol in a comment: her bell counts it without a reload.
    token = bob.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    carol_id = carol.locator("[data-recommend]").get_attribute("data-me")
    answer = bob.request.post(
        f"/api/items/page/{space.notes_id}/commentaires",
        headers={"X-CSRF-Token": token},
        data={"body": f'<p><span data-type="mention" data-id="{carol_id}">@Carol</span> ?</p>'},
    )
    assert answer.status == 201, answer.text()
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications (1 non lue)")
    expect(_bell(carol).locator("[data-bell-count]")).to_have_text("1")

    # Her notifications page lists it; marking it read empties the bell.
    listing = carol.context.new_page()
    listing.goto("/notifications")
    expect(listing.get_by_role("link", name="Compte rendu")).to_be_visible()
    listing.get_by_role("button", name="Marquer comme lue").click()
    expect(_bell(listing)).to_have_attribute("aria-label", "Notifications")
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications")


def test_a_comment_on_selected_words_reaches_an_editor_live_and_keeps_its_words(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    _add_carol(server, space)
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    carol = open_page(signed_in(browser, server, CAROL), space.notes_url)
    type_at_end(bob, "Le budget du pont est validé.")
    expect(surface(carol)).to_contain_text("Le budget du pont est validé.")

    # Carol, a commenter, selects "budget" and comments it.
    carol.evaluate(SELECT_WORD, "budget")
    panel = carol.get_by_role("complementary", name="Commentaires")
    panel.get_by_role("button", name="Commenter").click()
    expect(panel.locator("[data-comment-quote]")).to_have_text("budget")
    panel.get_by_label("Votre commentaire").fill("Quel montant ?")
    panel.get_by_role("button", name="Publier").click()
    expect(panel.locator(".comment-thread")).to_have_count(1)

    # Bob sees the thread and the highlight without reloading.
    bob_panel = bob.get_by_role("complementary", name="Commentaires")
    expect(bob_panel.locator(".comment-thread .comment-body")).to_have_text("Quel montant ?")
    expect(bob.locator(".comment-anchor")).to_have_text("budget")
    # Opened afresh, the page shows it too (and never takes it for orphaned while loading).
    again = open_page(bob.context, space.notes_url)
    expect(again.locator(".comment-anchor")).to_have_text("budget")
    again.close()

    # Bob types before the anchor: the highlight stays on its words, for both.
    type_at_start(bob, "Ainsi, ")
    expect(surface(carol)).to_contain_text("Ainsi, ")
    expect(bob.locator(".comment-anchor")).to_have_text("budget")
    expect(carol.locator(".comment-anchor")).to_have_text("budget")

    # Bob replies: Carol's bell counts it live, and she sees the reply.
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications")
    bob_panel.get_by_label("Votre réponse").fill("Deux millions.")
    bob_panel.get_by_role("button", name="Répondre").click()
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications (1 non lue)")
    expect(panel.locator(".comment-replies .comment-body")).to_have_text("Deux millions.")

    # Bob, an editor, resolves the thread: it leaves the open list and the text, for both.
    bob_panel.get_by_role("button", name="Résoudre").click()
    expect(panel.locator(".comment-thread")).to_have_count(0)
    expect(carol.locator(".comment-anchor")).to_have_count(0)
    panel.get_by_label("Afficher").select_option("oui")
    expect(panel.locator(".comment-thread")).to_have_count(1)
    expect(panel.get_by_text("Discussion résolue")).to_be_visible()

    # A comment whose words are deleted stays, marked orphaned, for everyone.
    panel.get_by_label("Afficher").select_option("non")
    carol.evaluate(SELECT_WORD, "pont")
    panel.get_by_role("button", name="Commenter").click()
    panel.get_by_label("Votre commentaire").fill("Lequel ?")
    panel.get_by_role("button", name="Publier").click()
    expect(bob.locator(".comment-anchor")).to_have_text("pont")
    surface(bob).click()
    bob.keyboard.press("Control+A")
    bob.keyboard.press("Delete")
    expect(panel.get_by_text("Le texte commenté a été supprimé.")).to_be_visible()
    expect(panel.locator(".comment-body")).to_have_text("Lequel ?")
    expect(carol.locator(".comment-anchor")).to_have_count(0)


def test_a_reader_guest_sees_the_comments_but_cannot_comment(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    token = bob.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    answer = bob.request.post(
        f"/api/items/page/{space.notes_id}/commentaires",
        headers={"X-CSRF-Token": token},
        data={"body": "<p>Relire avant vendredi.</p>"},
    )
    assert answer.status == 201, answer.text()

    guest = browser.new_context(base_url=server.http_url).new_page()
    guest.goto(f"/invite/{space.guest_token}")
    guest.get_by_label("Votre nom").fill("Claire (prestataire)")
    guest.get_by_role("button", name="Entrer").click()
    expect(guest.locator("#editor")).to_have_attribute("data-ready", "true")
    panel = guest.get_by_role("complementary", name="Commentaires")
    expect(panel.locator(".comment-body")).to_have_text("Relire avant vendredi.")
    expect(panel.get_by_role("button", name="Commenter")).to_have_count(0)
    expect(panel.get_by_role("button", name="Répondre")).to_have_count(0)
    expect(guest.get_by_role("button", name="Recommander")).to_have_count(0)
