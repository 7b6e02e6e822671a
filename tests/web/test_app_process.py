"""What `atelier serve` does to its own process once the app is ready."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.servers import AtelierServer
from tests.support.waiting import eventually_blocking
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


def test_an_idle_server_keeps_its_date_current_and_stops_cleanly(
    atelier: Callable[..., AtelierServer],
) -> None:
    """Its housekeeping tick (web/ticks.py, once a second: bench/idle_bench.py counts the
    wake-ups) still refreshes the Date header, and a stop signal still wakes it."""
    server = atelier()

    def date() -> str:
        return httpx.get(f"{server.http_url}/healthz").headers["date"]

    first = date()
    eventually_blocking(lambda: date() != first, timeout=5, what="a new Date header")
    # SIGTERM wakes the loop: a graceful stop (uvicorn then re-raises the signal).
    assert server.stop() == -signal.SIGTERM
    assert "Application shutdown complete" in server.log()
