"""A space's description: the Markdown subset its help text promises, sanitised."""

from __future__ import annotations

from web.spaces.description import markdown_html
from web.spaces.validation import description_html


def test_bold_italics_code_and_links_within_a_line() -> None:
    assert markdown_html("**gras** et __gras__, *ital* et _ital_") == (
        "<p><strong>gras</strong> et <strong>gras</strong>, <em>ital</em> et <em>ital</em></p>"
    )
    assert markdown_html("`**tel quel**` [le _site_](https://x.fr/_a_)") == (
        '<p><code>**tel quel**</code> <a href="https://x.fr/_a_">le <em>site</em></a></p>'
    )
    # Words with underscores or stars inside are not emphasis.
    assert markdown_html("snake_case_name et 2*3*4") == "<p>snake_case_name et 2*3*4</p>"


def test_paragraphs_line_breaks_and_lists() -> None:
    text = "Intro\nsuite\n\n- un\n- deux\n  et plus\n1. premier\n2) second\nFin"
    assert markdown_html(text) == (
        "<p>Intro<br>\nsuite</p>\n<ul>\n<li>un</li>\n<li>deux et plus</li>\n</ul>\n"
        "<ol>\n<li>premier</li>\n<li>second</li>\n</ol>\n<p>Fin</p>"
    )


def test_html_from_before_is_kept_then_sanitised_and_saving_again_changes_nothing() -> None:
    stored = description_html("<b>ancien</b><script>alert(1)</script>\n[x](javascript:alert(1))")
    assert stored == "<b>ancien</b>\n[x](javascript:alert(1))"
    written = description_html("Le **pont**\n\n- [plan](https://p.fr)\n- <img src=x onerror=y>")
    assert "<img" not in written and "onerror" not in written
    assert description_html(written) == written
    assert description_html(stored) == stored
