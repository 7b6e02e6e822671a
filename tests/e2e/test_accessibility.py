"""Every main page, at laptop and phone size, passes axe-core (run in Chromium on the real page)
with no serious or critical violation (the lesser ones are printed for the reviewer), and fits
the width of the screen.

The tour (tests/support/tour.py) is one instance seeded once for the module: a space with
pages, members, a guest link, a written page and its version, waiting registrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium
from tests.support.servers import AtelierServer
from tests.support.tour import (
    AXE,
    MEDIA_ARGS,
    SIZES,
    Stop,
    Visitors,
    every_stop,
    seed,
    write_content,
)
from tests.support.visio import LOOPBACK_ENV

pytestmark = pytest.mark.browser

# axe-core's own run, every rule it has (WCAG 2.0/2.1 A and AA and its best practices).
RUN_AXE = "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Visitors]:
    if not AXE.exists():
        pytest.fail("axe-core is missing from node_modules: run `make setup-dev`")
    server = AtelierServer(Path(tmp_path_factory.mktemp("tour")) / "data", env=LOOPBACK_ENV)
    server.start()
    try:
        world = seed(server)
        with chromium(*MEDIA_ARGS) as browser:
            visitors = Visitors(browser, server, world, init_script=str(AXE))
            try:
                write_content(visitors)
                yield visitors
            finally:
                visitors.close()
    finally:
        server.stop()


def describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:4]]
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}"


@pytest.mark.parametrize(
    ("stop", "size"), list(every_stop()), ids=[f"{s.name}-{size}" for s, size in every_stop()]
)
def test_the_page_has_no_serious_accessibility_violation_and_fits_the_screen(
    tour: Visitors, stop: Stop, size: str
) -> None:
    page = tour.visit(stop, SIZES[size])
    try:
        violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
        width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        page.close()
    assert width <= SIZES[size]["width"], f"the page scrolls sideways: {width} px"
    for violation in violations:
        if violation["impact"] not in BLOCKING:
            print(f"{stop.name} ({size}) {describe(violation)}")
    blocking = [describe(v) for v in violations if v["impact"] in BLOCKING]
    assert not blocking, "\n".join(blocking)
