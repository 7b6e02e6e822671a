"""`make dsfr` fetches the State's design system only once its terms are accepted, and copies
exactly the pinned release's files the `etat` theme loads."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tools.dsfr import FILES, DsfrError, extract, fetch, integrity_of


def package(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            data = f"/* {name} */".encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_nothing_is_fetched_until_the_terms_of_use_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(DsfrError, match="DSFR_ACCEPT_LICENSE=1"):
        fetch(tmp_path / "dsfr", {})
    assert not (tmp_path / "dsfr").exists()


def test_the_files_the_theme_loads_are_copied_with_fonts_and_icons_and_nothing_else(
    tmp_path: Path,
) -> None:
    names = [f"dist/{f}" for f in FILES] + [
        "dist/fonts/Marianne-Regular.woff2",
        "dist/icons/system/close-line.svg",
        "dist/dsfr.min.css.map",
        "dist/component/button/button.css",
        "src/core/index.js",
    ]
    archive = package(tmp_path / "dsfr.tgz", names)
    copied = extract(archive, tmp_path / "dsfr", integrity_of(archive.read_bytes()))
    assert sorted(copied) == sorted(
        [*FILES, "fonts/Marianne-Regular.woff2", "icons/system/close-line.svg"]
    )
    assert (tmp_path / "dsfr" / "dsfr.min.css").read_text() == "/* dist/dsfr.min.css */"


def test_an_archive_that_is_not_the_pinned_release_is_refused(tmp_path: Path) -> None:
    archive = package(tmp_path / "dsfr.tgz", [f"dist/{f}" for f in FILES])
    with pytest.raises(DsfrError, match="pinned integrity"):
        extract(archive, tmp_path / "dsfr")
    assert not (tmp_path / "dsfr").exists()
