"""uvicorn's housekeeping tick, once a second instead of ten times, in `atelier serve`.

uvicorn's `Server.main_loop` wakes every 100 ms to see whether it should exit and, once a
second, to refresh the `Date` header. On an idle server those ten wakeups a second were
almost all of its CPU (docs/benchmarks.md, "Idle server"). Here the loop sleeps a
second at a time, and a stop signal wakes it at once: the handlers uvicorn installed are
chained, so stopping is as prompt as before. Installed by `serve_app`, in each process
`atelier serve` runs (uvicorn's workers included); uvicorn is pinned to the minor version
this was written against (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from types import FrameType
from typing import Any

from uvicorn.server import HANDLED_SIGNALS, Server

TICK_SECONDS = 1.0


async def main_loop(self: Server) -> None:
    """`Server.main_loop`, ticking every TICK_SECONDS (its `on_tick` counts tenths)."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in HANDLED_SIGNALS:
            _chain(sig, lambda: loop.call_soon_threadsafe(wake.set))
    counter = 0
    should_exit = await self.on_tick(counter)
    while not should_exit:
        counter = (counter + 10) % 864000  # a multiple of 10: the Date header every tick
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), TICK_SECONDS)
        should_exit = await self.on_tick(counter)


def _chain(sig: int, then: Any) -> None:
    """Run the current (uvicorn's) handler of `sig`, then `then()`."""
    previous = signal.getsignal(sig)
    if not callable(previous):
        return

    def handler(number: int, frame: FrameType | None) -> None:
        previous(number, frame)
        then()

    signal.signal(sig, handler)


def install() -> None:
    """Use `main_loop` in every uvicorn server of this process from now on."""
    Server.main_loop = main_loop  # type: ignore[method-assign]
