"""Fetch the State's design system (DSFR) for the `etat` theme: `make dsfr`.

The DSFR's code is under the Etalab 2.0 licence, but its use is bound by terms of use
(doc/legal/cgu.md in the package): it is for State services, on .gouv.fr sites, and its
install script refuses to run until those terms are accepted. Atelier therefore does not
depend on it: an operator of a State service reads the terms (docs/design.md sums them up),
accepts them as the DSFR asks (`DSFR_ACCEPT_LICENSE=1`), and this script then fetches the
pinned release with npm (its files checked against the pinned integrity, no install script
run), and copies what the pages load into web/static/dsfr/ (not in git):

    DSFR_ACCEPT_LICENSE=1 python tools/dsfr.py        # then ATELIER_THEME=etat
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@gouvfr/dsfr"
VERSION = "1.15.3"
# `npm view @gouvfr/dsfr@1.15.3 dist.integrity`
INTEGRITY = (
    "sha512-R9AALZc1LfZjtytWZMOaUIOHWTkllBZ/sZlsL8TpKZVgF3qUKXt/"
    "uNYh+L1D1Fh4p92ZqWxbtNcebsigBZe5pQ=="
)
# What the pages load (web/theme.py), and the fonts and icons its stylesheet points at.
FILES = ("dsfr.min.css", "dsfr.module.min.js", "dsfr.nomodule.min.js")
FOLDERS = ("fonts", "icons")
TERMS = "https://www.systeme-de-design.gouv.fr (doc/legal/cgu.md in the package)"


class DsfrError(Exception):
    """The DSFR could not be fetched (terms not accepted, npm failed, a file differs)."""


def terms_accepted(env: dict[str, str]) -> bool:
    """True when the operator accepted the DSFR's terms, as the DSFR's own installer reads it."""
    return env.get("DSFR_ACCEPT_LICENSE") == "1"


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def extract(archive: Path, target: Path, integrity: str = INTEGRITY) -> list[str]:
    """Copy the DSFR's dist files the pages need from the package `archive` into `target`,
    once the archive is the one pinned (`integrity`, npm's `sha512-` form)."""
    if integrity_of(archive.read_bytes()) != integrity:
        raise DsfrError(f"{archive.name} does not match the pinned integrity of {VERSION}")
    wanted = tuple(f"package/dist/{name}" for name in FILES)
    folders = tuple(f"package/dist/{name}/" for name in FOLDERS)
    copied: list[str] = []
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.endswith(".map"):
                continue
            if member.name in wanted or member.name.startswith(folders):
                relative = member.name.removeprefix("package/dist/")
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                destination.write_bytes(source.read())
                copied.append(relative)
    missing = [name for name in FILES if name not in copied]
    if missing:
        raise DsfrError(f"the package has no {', '.join(missing)}")
    return copied


def fetch(target: Path, env: dict[str, str]) -> list[str]:
    """Fetch the pinned DSFR with npm (no scripts run) and copy its files into `target`."""
    if not terms_accepted(env):
        raise DsfrError(
            "the DSFR is for State services, under its terms of use: read them "
            f"({TERMS}; docs/design.md sums them up), then run again with DSFR_ACCEPT_LICENSE=1"
        )
    with tempfile.TemporaryDirectory(prefix="dsfr-") as folder:
        done = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", folder],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise DsfrError(f"npm pack failed: {done.stderr.strip()}")
        return extract(Path(folder) / done.stdout.strip().splitlines()[-1], target)


def main() -> None:
    target = ROOT / "web" / "static" / "dsfr"
    try:
        copied = fetch(target, dict(os.environ))
    except DsfrError as error:
        sys.exit(f"make dsfr: {error}")
    print(f"DSFR {VERSION}: {len(copied)} files in {target.relative_to(ROOT)}; ATELIER_THEME=etat")


if __name__ == "__main__":
    main()
