"""What `atelier serve` does to its own process once the app is ready."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.servers import AtelierServer
from tests.support.web_app import web_settings
from web.app import create_app
from web.database import database_url, migrate
from web.gc_tuning import GC_YOUNG_THRESHOLD


async def _ready_and_stopped(tmp_path: Path, *, tune_gc: bool) -> tuple[int, int]:
    """(frozen objects, young threshold) seen while the app runs."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    await asyncio.to_thread(migrate, database_url(data_dir.resolve(), None))
    app = create_app(web_settings(data_dir), tune_gc=tune_gc)
    async with app.router.lifespan_context(app):
        return gc.get_freeze_count(), gc.get_threshold()[0]


async def test_a_served_app_freezes_its_startup_heap_and_collects_young_objects_less_often(
    tmp_path: Path,
) -> None:
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        frozen, young = await _ready_and_stopped(tmp_path, tune_gc=True)
    finally:
        gc.unfreeze()  # the test process goes on: give its objects back to the collector
        gc.set_threshold(*threshold)
    # The modules, the app and its templates: far more than any test leaves behind.
    assert frozen > 50_000
    assert young == GC_YOUNG_THRESHOLD


async def test_an_app_in_a_shared_process_leaves_the_collector_alone(tmp_path: Path) -> None:
    threshold = gc.get_threshold()
    before = gc.get_freeze_count()
    frozen, young = await _ready_and_stopped(tmp_path, tune_gc=False)
    assert (frozen, young) == (before, threshold[0])


def test_atelier_serve_runs_the_served_app() -> None:
    from uvicorn.importer import import_from_string

    from web.app import serve_app
    from web.cli import APP_FACTORY

    assert import_from_string(APP_FACTORY) is serve_app


def _wakeups(pid: int) -> int:
    """Times the process's main thread went to sleep and was woken (voluntary switches)."""
    for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches in /proc")


def test_an_idle_server_wakes_once_a_second_keeps_its_date_current_and_stops_cleanly(
    atelier: Callable[..., AtelierServer],
) -> None:
    server = atelier()
    first = httpx.get(f"{server.http_url}/healthz").headers["date"]
    time.sleep(1.0)  # whatever start-up left settles
    before = _wakeups(server.pid)
    time.sleep(3.0)
    woken = _wakeups(server.pid) - before
    # uvicorn's own loop wakes ten times a second (30 here); ours once (web/ticks.py).
    assert woken <= 12, woken
    assert httpx.get(f"{server.http_url}/healthz").headers["date"] != first
    # SIGTERM wakes the loop: a graceful stop (uvicorn then re-raises the signal).
    assert server.stop() == -signal.SIGTERM
    assert "Application shutdown complete" in server.log()
