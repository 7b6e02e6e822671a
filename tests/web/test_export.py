"""Markdown and HTML export of pages written by the real TipTap editor."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.extract import Block, TextRun, document_blocks
from web.pages.export import safe_href, to_html, to_html_fragment, to_markdown

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tiptap"

RICH_MARKDOWN = """\
# Réunion du 3 mars

Texte avec **gras**, *italique*, `code`, ~~barré~~ et un [lien](https://example.org/a?b=1&c=2) \
vers [une page](/espaces/projet/pages/12).

## Points

- premier
  - imbriqué
- second ***gras italique***

1. un
2. deux

- [x] fait
- [ ] à faire

> Une citation

```python
def f(x):
    return x * 2  # <b>
```

| Nom | Rôle |
| --- | --- |
| Alice | éditrice \\| cheffe |

Ligne\\
coupée

---

![Un schéma](/fichiers/images/abc.png)

### Fin \\<script\\>alert(1)\\</script\\> \\*étoiles\\* \\_soulignés\\_
"""


@pytest.fixture
def rich() -> Block:
    return document_blocks((FIXTURES / "rich_page.bin").read_bytes())


def test_markdown_of_a_real_editor_page(rich: Block) -> None:
    assert to_markdown(rich) == RICH_MARKDOWN


def test_html_of_a_real_editor_page_keeps_structure_and_escapes_text(rich: Block) -> None:
    out = to_html_fragment(rich)
    assert out.startswith("<h1>Réunion du 3 mars</h1>\n<p>Texte avec <strong>gras</strong>")
    assert '<a href="https://example.org/a?b=1&amp;c=2">lien</a>' in out
    assert '<li class="task-list-item"><input type="checkbox" disabled checked> <p>fait</p>' in out
    assert '<pre><code class="language-python">def f(x):\n    return x * 2  # &lt;b&gt;' in out
    assert "<th><p>Nom</p>\n</th>" in out and "<td><p>éditrice | cheffe</p>\n</td>" in out
    assert "<p>Ligne<br>coupée</p>" in out
    assert '<img src="/fichiers/images/abc.png" alt="Un schéma">' in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "<script>" not in out
    assert not out.rstrip().endswith("<p></p>")


def test_standalone_html_names_its_title_and_language(rich: Block) -> None:
    page = to_html(rich, title="Compte rendu <1>", lang="fr")
    assert page.startswith('<!doctype html>\n<html lang="fr">')
    assert "<title>Compte rendu &lt;1&gt;</title>" in page


@pytest.mark.parametrize(
    ("href", "kept"),
    [
        ("https://example.org", True),
        ("mailto:a@b.fr", True),
        ("/espaces/x/pages/3", True),
        ("javascript:alert(1)", False),
        ("  JavaScript:alert(1)", False),
        ("//evil.example/x", False),
        ("data:text/html,<b>", False),
    ],
)
def test_only_web_mail_and_local_links_survive_export(href: str, kept: bool) -> None:
    assert (safe_href(href) is not None) is kept
    doc = Block("doc", {}, (Block("paragraph", {}, (TextRun("x", {"link": {"href": href}}),)),))
    assert ("<a href" in to_html_fragment(doc)) is kept
    assert ("](" in to_markdown(doc)) is kept


def test_markdown_text_that_looks_like_syntax_is_escaped() -> None:
    doc = Block(
        "doc",
        {},
        (
            Block("paragraph", {}, (TextRun("# pas un titre"),)),
            Block("paragraph", {}, (TextRun("- pas une liste"),)),
            Block("paragraph", {}, (TextRun("1. pas numéroté"),)),
            Block("paragraph", {}, (TextRun("a `b` c", {"code": {}}),)),
        ),
    )
    assert to_markdown(doc) == (
        "\\# pas un titre\n\n\\- pas une liste\n\n1\\. pas numéroté\n\n``a `b` c``\n"
    )


def test_code_blocks_containing_fences_get_a_longer_fence() -> None:
    doc = Block("doc", {}, (Block("codeBlock", {}, (TextRun("```\ninside\n```"),)),))
    assert to_markdown(doc) == "````\n```\ninside\n```\n````\n"
