"""Editor benchmark: bundle size, and time from opening a page to editable, in Chromium.

"Editable" is the moment the page editor has the document's content and accepts typing:
the `atelier:editor-ready` performance mark (set by editor/entries/page.ts once the server
synced the document), counted from the start of navigation. Loopback, one `atelier serve`.

Runs:
  cold  — a fresh browser context each time: nothing cached, empty IndexedDB;
  warm  — reloads in the same context: bundle from the HTTP cache, document in IndexedDB.
Each on an empty page and on a large page (the rich fixture page repeated).

    .venv/bin/python bench/editor_bench.py [--runs 20] [--json bench/results/editor.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.editor import mint_token  # noqa: E402
from tests.support.servers import AtelierServer  # noqa: E402

BUILD = ROOT / "web" / "static" / "build"
RICH_HTML = ROOT / "tests" / "fixtures" / "tiptap" / "rich_page.html"


def bundle_sizes() -> dict[str, int]:
    page = (BUILD / "page.js").read_bytes()
    return {"page.js": len(page), "page.js gzipped": len(gzip.compress(page, 9))}


def ready_ms(page: Page) -> float:
    page.wait_for_selector("#editor[data-ready=true]", timeout=30_000)
    value = page.evaluate("() => performance.getEntriesByName('atelier:editor-ready')[0].startTime")
    return float(value)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "runs": len(values),
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "min_ms": round(min(values), 1),
    }


def seed(browser: Browser, url: str, html: str) -> None:
    page = browser.new_context().new_page()
    page.goto(url)
    ready_ms(page)
    page.evaluate("html => window.atelier.editor.commands.setContent(html)", html)
    page.wait_for_function("() => window.atelier.shared.state === 'saved'")
    page.wait_for_timeout(500)  # let the store commit
    page.context.close()


def measure(browser: Browser, url: str, runs: int) -> dict[str, Any]:
    cold = []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        cold.append(ready_ms(page))
        context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    ready_ms(page)
    warm = []
    for _ in range(runs):
        page.reload()
        warm.append(ready_ms(page))
    context.close()
    return {"cold": summary(cold), "warm": summary(warm)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    subprocess.run(["make", "--no-print-directory", "bundle"], cwd=ROOT, check=True)
    results: dict[str, Any] = {"bundle": bundle_sizes()}
    large_html = RICH_HTML.read_text() * 40
    with tempfile.TemporaryDirectory() as data:
        server = AtelierServer(Path(data)).start()
        try:
            token = mint_token(server, "bench/", name="Bench")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                stamp = int(time.time())
                empty_url = f"{server.http_url}/d/bench/empty-{stamp}?token={token}"
                large_url = f"{server.http_url}/d/bench/large-{stamp}?token={token}"
                seed(browser, large_url, large_html)
                results["empty page"] = measure(browser, empty_url, args.runs)
                results["large page"] = measure(browser, large_url, args.runs)
                browser.close()
        finally:
            server.stop()
    results["large page bytes"] = len(large_html)
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
