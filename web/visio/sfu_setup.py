"""The SFU as this instance runs it: its typed configuration from the settings, and its node.

The SFU (sfu/) knows nothing of the web app's settings: it takes an `SfuConfig`, made here
from the `ATELIER_VISIO_*` settings (docs/settings.md), as `/sync` takes its limits.
"""

from __future__ import annotations

from redis.asyncio import Redis

from plumbing.bus import Bus
from sfu.config import IceConfig, IceServer, SfuConfig
from sfu.errors import SfuError
from sfu.node import SfuNode
from web.config import Settings


def sfu_config(settings: Settings) -> SfuConfig:
    """The SFU's configuration from the instance settings."""
    servers = []
    for url in settings.visio_ice_servers.split():
        if url.startswith(("turn:", "turns:")):
            user, password = settings.visio_turn_username, settings.visio_turn_password
            servers.append(IceServer(url, user or None, password or None))
        else:
            servers.append(IceServer(url))
    addresses = tuple(a for a in settings.visio_host_addresses.split(",") if a)
    public = settings.visio_public_address.split(",")[0]
    ice = IceConfig(
        host_addresses=addresses,
        ice_servers=tuple(servers),
        public_address=public,
        udp_ports=settings.visio_udp_ports,
    )
    return SfuConfig(
        ice=ice,
        max_participants=settings.visio_max_participants,
        last_n=settings.visio_last_n,
        turn_secret=settings.visio_turn_secret,
    )


def make_sfu(settings: Settings, bus: Bus, *, role: str | None = None) -> SfuNode:
    """The SFU of this process: embedded; with Redis, rooms leased and signaling relayed; in
    `signaling` mode (or `role="standalone"`, `atelier sfu`) a part of separate SFU nodes."""
    role = role or ("signaling" if settings.visio_mode == "signaling" else "embedded")
    if not settings.redis_url:
        if role != "embedded":
            raise SfuError(f"an SFU node in the {role} role needs REDIS_URL")
        return SfuNode(sfu_config(settings))
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    return SfuNode(sfu_config(settings), bus=bus, redis=client, role=role)
