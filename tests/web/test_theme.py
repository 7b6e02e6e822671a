"""ATELIER_THEME: by default no State identity on any page; `etat` dresses the same pages with
the DSFR and the "République Française" block, and is refused without the DSFR's files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from web.config import SettingsError
from web.theme import DSFR_FILES, load_theme


async def test_an_instance_shows_no_state_identity_unless_it_says_it_is_a_state_service(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/connexion")).text
    assert "République" not in page and "Marianne" not in page and "/static/dsfr/" not in page
    assert 'href="/static/css/neutre.css"' in page and 'src="/static/build/layout.js"' in page
    sheet = (await client.get("/static/css/neutre.css")).text
    assert "Marianne" not in sheet  # system fonts only


def test_the_state_theme_is_refused_without_the_dsfr_files_saying_how_to_get_them(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match="DSFR_ACCEPT_LICENSE=1 make dsfr"):
        load_theme("etat", tmp_path)


async def test_the_state_theme_dresses_the_pages_with_the_dsfr_and_the_official_block(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    for name in DSFR_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("/* stand-in */")
    app.state.theme = load_theme("etat", tmp_path)
    page = (await client.get("/connexion")).text
    assert '<p class="fr-logo">République<br>Française</p>' in page
    assert 'href="/static/dsfr/dsfr.min.css"' in page and "neutre.css" not in page
    assert '<script type="module" src="/static/dsfr/dsfr.module.min.js">' in page
    assert '<script nomodule src="/static/dsfr/dsfr.nomodule.min.js">' in page
    assert "layout.js" not in page  # the DSFR's own script opens the menus
