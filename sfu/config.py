"""What the SFU takes from its host: ICE addresses and servers, room limits, a TURN secret.

Plain typed values (no aiortc): the web app makes them from its settings
(web/visio/sfu_setup.py), tests and benchmarks make their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from sfu.turn import turn_credentials


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server (`stun:`/`turn:`/`turns:` URL), with its credentials."""

    urls: str
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class IceConfig:
    """Where the SFU's peers gather candidates and which STUN/TURN servers they use."""

    # Host candidates' addresses (empty: aioice's own choice, which never includes loopback).
    host_addresses: tuple[str, ...] = ()
    # Exactly these (none means none: aiortc would otherwise fall back to a public STUN server).
    ice_servers: tuple[IceServer, ...] = ()
    # Advertised in place of the host addresses (a 1:1 NAT in front of the SFU); "": none.
    public_address: str = ""
    # (LOW, HIGH): host candidates' UDP ports, both included; None: the kernel's ephemeral ones.
    udp_ports: tuple[int, int] | None = None


@dataclass(frozen=True)
class SfuConfig:
    """What the SFU takes from the settings."""

    ice: IceConfig = field(default_factory=IceConfig)
    max_participants: int = 50
    last_n: int = 6
    keyframe_interval: float = 0.3
    # coturn `use-auth-secret`: TURN servers get short-lived credentials (sfu/turn.py).
    turn_secret: str = ""

    def _servers(self, identity: str, now: float | None) -> list[IceServer]:
        if not self.turn_secret:
            return list(self.ice.ice_servers)
        username, credential = turn_credentials(
            self.turn_secret, identity, time.time() if now is None else now
        )
        return [
            IceServer(s.urls, username, credential) if s.urls.startswith("turn") else s
            for s in self.ice.ice_servers
        ]

    def browser_ice_servers(
        self, identity: str = "", now: float | None = None
    ) -> list[dict[str, object]]:
        """The STUN/TURN servers for browsers' `RTCPeerConnection({iceServers})`; with a TURN
        secret, TURN servers carry credentials for `identity` (the participant)."""
        servers: list[dict[str, object]] = []
        for server in self._servers(identity, now):
            entry: dict[str, object] = {"urls": server.urls}
            if server.username is not None:
                entry.update(username=server.username, credential=server.credential)
            servers.append(entry)
        return servers

    def peer_ice(self) -> IceConfig:
        """The ICE configuration for one new SFU peer connection (fresh TURN credentials)."""
        if not self.turn_secret:
            return self.ice
        return replace(self.ice, ice_servers=tuple(self._servers("sfu", None)))
