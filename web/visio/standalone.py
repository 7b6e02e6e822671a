"""`atelier sfu`: an SFU node process with no HTTP, for `ATELIER_VISIO_MODE=signaling`.

It needs Redis and the visio settings only (no database: web workers authorise participants
before relaying their joins). It subscribes to its bus channel, beats
`{atelier-sfu}:node:<id>` with its load and joins the set `{atelier-sfu}:nodes`, serves the
relayed signaling of the rooms placed on it and renews their leases. On SIGTERM or SIGINT it
leaves the placement set, ends its rooms (every member is closed with 1001 through its web
worker, and reconnects), releases its leases and removes its heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from plumbing.bus import RedisBus
from web.config import Settings
from web.gc_tuning import freeze_startup_heap
from web.visio.sfu_setup import make_sfu

log = logging.getLogger("atelier.sfu")


async def run_sfu_node(settings: Settings, ready: asyncio.Event | None = None) -> None:
    """Run one standalone SFU node until SIGTERM/SIGINT. ConnectionError: no Redis."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not a stub: where the loop cannot take signal handlers (Windows, or a node run in a
        # thread as the tests do) the node still stops when its task is cancelled.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    bus = RedisBus(settings.redis_url)
    await bus.start()  # ConnectionError when Redis does not answer
    try:
        node = make_sfu(settings, bus, role="standalone")
        await node.start()
        try:
            hosts = settings.visio_host_addresses or "every non-loopback interface"
            ports = settings.visio_udp_ports
            media = f"{hosts}, UDP ports {ports[0]}-{ports[1]}" if ports else hosts
            freeze_startup_heap()  # this process runs nothing else
            print(f"atelier sfu: node {node.node_id} ready (media on {media})", flush=True)
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("sfu node %s stopping: ending %d meetings", node.node_id, len(node.rooms))
        finally:
            await node.close()
    finally:
        await bus.close()  # sends the members' closes still queued
    print("atelier sfu: stopped", flush=True)
