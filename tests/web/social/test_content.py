"""Comment content without I/O: what sanitising keeps, the mentions a comment holds, anchors
kept as given, and the limits."""

from __future__ import annotations

import pytest

from tests.support.social import mention
from web.social.content import (
    ContentError,
    Mentions,
    anchor,
    comment_body,
    excerpt,
    mentions_in,
    sanitise,
)


def test_sanitising_keeps_bold_italic_links_and_mentions_and_drops_the_rest() -> None:
    dirty = (
        '<p><strong>gras</strong> <em>italique</em> <a href="https://ex.fr" onclick="x()">lien</a>'
        "<script>alert(1)</script><img src=x onerror=alert(1)>"
        f'{mention(12, "Alice")}<span data-type="other" data-id="3">x</span>'
        '<a href="javascript:alert(1)">piège</a></p>'
    )
    clean = sanitise(dirty)
    assert "<strong>gras</strong>" in clean and "<em>italique</em>" in clean
    assert 'href="https://ex.fr"' in clean and "onclick" not in clean
    assert "script" not in clean and "img" not in clean and "javascript" not in clean
    assert 'data-type="mention" data-id="12"' in clean
    assert 'data-type="other"' not in clean


def test_mentions_come_from_the_stored_html_people_and_groups_each_once() -> None:
    body = sanitise(
        f"{mention(3, 'A')} {mention(5, 'B')} {mention(3, 'A')} {mention('editeurs')} "
        f'{mention("espace")} <span data-type="mention" data-id="nobody">x</span>'
    )
    assert mentions_in(body) == Mentions((3, 5), ("editeurs", "espace"))


def test_a_comment_must_be_text_not_empty_and_within_the_limit() -> None:
    with pytest.raises(ContentError):
        comment_body("<p> </p><script>x</script>", 100)
    with pytest.raises(ContentError):
        comment_body("x" * 101, 100)
    with pytest.raises(ContentError):
        comment_body(12, 100)
    assert comment_body("<p>Bonjour</p>", 100) == "<p>Bonjour</p>"


def test_anchors_are_kept_as_given_within_their_size() -> None:
    given = '{"start":"AQID","end":"BAUG"}'
    assert anchor(given) == given
    assert anchor(None) is None
    for bad in ("", "x" * 5000, "é", 12):
        with pytest.raises(ContentError):
            anchor(bad)


def test_an_excerpt_is_plain_text_cut_with_an_ellipsis() -> None:
    assert excerpt("<p><strong>Un</strong> &amp; deux</p>") == "Un & deux"
    assert excerpt("<p>" + "mot " * 200 + "</p>", 20).endswith("…")
