"""Screenshots of every main page, laptop and phone, in one folder for a reviewer.

    make screenshots                      # build/screenshots/{ordinateur,telephone}/NN-page.png
    .venv/bin/python bench/screenshots.py --out DIR [--quick] [--theme etat]

Starts `atelier serve` on loopback with a seeded instance (tests/support/tour.py: a space with
pages, members, a guest link, a version, waiting registrations), signs the tour's people in and
saves a full-page PNG of each stop. `--quick` takes the laptop and the phone of a few pages (the
test suite runs it so). Nothing leaves the machine; the folder is not in git.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium  # noqa: E402
from tests.support.servers import AtelierServer  # noqa: E402
from tests.support.tour import MEDIA_ARGS, SIZES, STOPS, Visitors, seed, write_content  # noqa: E402

QUICK = ("connexion", "espace", "page-editeur", "admin-comptes")


def take(out: Path, *, quick: bool = False, theme: str = "neutre") -> list[Path]:
    """Run the tour on a new instance and save its screenshots under `out`; the files saved."""
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="atelier-screenshots-") as data:
        server = AtelierServer(
            Path(data) / "data",
            env={"ATELIER_VISIO_HOST_ADDRESSES": "127.0.0.1", "ATELIER_THEME": theme},
        ).start()
        try:
            world = seed(server)
            with chromium(*MEDIA_ARGS) as browser:
                visitors = Visitors(browser, server, world)
                try:
                    write_content(visitors)
                    for size_name, size in SIZES.items():
                        folder = out / size_name
                        folder.mkdir(parents=True, exist_ok=True)
                        for number, stop in enumerate(STOPS, 1):
                            if quick and stop.name not in QUICK:
                                continue
                            page = visitors.visit(stop, size)
                            path = folder / f"{number:02d}-{stop.name}.png"
                            page.screenshot(path=str(path), full_page=True)
                            page.close()
                            saved.append(path)
                finally:
                    visitors.close()
        finally:
            server.stop()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots")
    parser.add_argument("--quick", action="store_true", help="a few pages only")
    parser.add_argument("--theme", choices=("neutre", "etat"), default="neutre")
    args = parser.parse_args()
    started = time.monotonic()
    saved = take(args.out, quick=args.quick, theme=args.theme)
    print(f"{len(saved)} screenshots in {args.out} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
