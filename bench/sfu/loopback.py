"""Loopback-only aiortc: 127.0.0.1 is the only ICE host candidate, and no STUN/TURN server.

aioice never gathers loopback addresses (its host-address lookup skips them) and aiortc falls
back to a public STUN server when a peer connection has no ICE servers configured. Every bot and
the MediaRelay baseline import this module first and build their peer connections with
`rtc_configuration()`, so no packet leaves 127.0.0.1.
"""

from __future__ import annotations

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration, rtcicetransport

LOOPBACK = "127.0.0.1"


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
    return [LOOPBACK]


def _no_default_servers(cls: type) -> list:  # type: ignore[type-arg]
    return []


aioice.ice.get_host_addresses = _loopback_only
rtcicetransport.RTCIceGatherer.getDefaultIceServers = classmethod(_no_default_servers)  # type: ignore[method-assign,assignment]


def rtc_configuration() -> RTCConfiguration:
    """No ICE servers, and max-bundle: with aiortc's default (balanced) policy, an offer whose
    BUNDLE group starts with audio leaves the second and later video m-lines on a discarded
    transport, so they never receive (seen with Janus subscriber offers)."""
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def check_sdp(sdp: str) -> None:
    """Refuse an SDP that carries a candidate on anything but 127.0.0.1 (nothing is sent there)."""
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4 and parts[4] != LOOPBACK:
                raise RuntimeError(f"non-loopback ICE candidate in SDP: {line}")


def set_receive_buffer(size: int) -> None:
    """Ask for `size`-byte UDP receive buffers on every ICE socket made from now on (the kernel
    caps it at net.core.rmem_max). Bots only, with --bot-rcvbuf: to tell drops caused by the
    bots' own scheduling hiccups from what the server sends."""
    import socket

    made = aioice.ice.StunProtocol.connection_made

    def connection_made(self: aioice.ice.StunProtocol, transport: object) -> None:
        sock = transport.get_extra_info("socket")  # type: ignore[attr-defined]
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        made(self, transport)  # type: ignore[arg-type]

    aioice.ice.StunProtocol.connection_made = connection_made  # type: ignore[method-assign]
