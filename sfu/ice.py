"""ICE for the SFU's peers: which host addresses and UDP ports they gather on, which remote
candidates they take, what their descriptions advertise.

aioice alone gathers on every non-loopback interface (never 127.0.0.1) and binds port 0, the
kernel's ephemeral range; aiortc alone falls back to a public STUN server when given none.
Here host candidates come from `IceConfig.host_addresses`, their ports from
`IceConfig.udp_ports` when set, and the ICE servers are exactly `IceConfig.ice_servers`.
The choices hold inside `host_addresses(...)` and `udp_ports(...)` blocks (context
variables), which aioice reads through the hooks that `sfu.aiortc_internals.install()` puts
in place; other aiortc users in the process are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import ipaddress
import random
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from sfu.config import IceConfig
from sfu.errors import NegotiationError

_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "sfu_host_addresses", default=None
)
_UDP_PORTS: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "sfu_udp_ports", default=None
)
# Where the next search of a range starts: just after the port bound last, so that a search
# usually succeeds at its first try and a port just freed is reused last (late packets of the
# connection that had it then meet nobody). The first search starts at random.
_next_port: dict[tuple[int, int], int] = {}
_HOST_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ udp \d+ )(\S+)( \d+ typ host.*)$", re.M)
_CANDIDATE_LINE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) .*\r?\n?", re.M)


class UdpPortsExhausted(NegotiationError):
    """Every UDP port of the configured range is in use on a host address."""


def rtc_configuration(ice: IceConfig) -> RTCConfiguration:
    """aiortc's configuration for an SFU peer: exactly the configured ICE servers, and one
    transport (one UDP port) per connection, as browsers bundle by default."""
    servers = [RTCIceServer(s.urls, s.username, s.credential) for s in ice.ice_servers]
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


# --- host addresses ---------------------------------------------------------------------------


@contextlib.contextmanager
def host_addresses(addresses: tuple[str, ...]) -> Iterator[None]:
    """Gather ICE host candidates on exactly these addresses (empty: aioice's own choice)."""
    token = _HOST_ADDRESSES.set(addresses or None)
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


def chosen_host_addresses() -> tuple[str, ...] | None:
    """The addresses of the enclosing `host_addresses(...)` block, or None (aioice's own)."""
    return _HOST_ADDRESSES.get()


# --- UDP ports ----------------------------------------------------------------------------------


@contextlib.contextmanager
def udp_ports(ports: tuple[int, int] | None) -> Iterator[None]:
    """Bind ICE host sockets within `ports` (LOW, HIGH inclusive; None: the kernel's choice)."""
    token = _UDP_PORTS.set(ports)
    try:
        yield
    finally:
        _UDP_PORTS.reset(token)


def bind_in_range(address: str, ports: tuple[int, int]) -> socket.socket:
    """A UDP socket bound to `address` on a free port of `ports` (inclusive bounds).

    Ports are tried round-robin from where the last search stopped; a port in use (by this
    process or another) is skipped. UdpPortsExhausted when none is free; any other bind error
    is the OSError aioice expects (it then skips that address, as without a range).
    """
    low, high = ports
    count = high - low + 1
    start = _next_port.get(ports)
    if start is None:
        start = random.randint(low, high)
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(count):
            port = low + (start - low + i) % count
            try:
                sock.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue  # a failed bind leaves the socket unbound: try the next port
                raise
            _next_port[ports] = port + 1 if port < high else low
            return sock
    except BaseException:
        sock.close()
        raise
    sock.close()
    raise UdpPortsExhausted(f"no free UDP port in {low}-{high} on {address}")


class PortRangeLoop:
    """The running loop as aioice sees it while the SFU gathers with a port range.

    A host socket (`create_datagram_endpoint(..., local_addr=(address, 0))`, what aioice's
    `Connection.get_component_candidates` asks for) is bound in the range; everything else
    goes to the loop. One is made per `get_running_loop()` call, i.e. per connection
    component: if a later host address finds no free port, the sockets it opened for earlier
    ones are closed before the error goes up (aioice has not recorded them yet).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, ports: tuple[int, int]) -> None:
        self._loop = loop
        self._ports = ports
        self._opened: list[asyncio.BaseTransport] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def create_datagram_endpoint(
        self, protocol_factory: Callable[[], Any], local_addr: Any = None, **kwargs: Any
    ) -> tuple[asyncio.DatagramTransport, Any]:
        if local_addr is None or local_addr[1] != 0 or kwargs:
            return await self._loop.create_datagram_endpoint(
                protocol_factory, local_addr=local_addr, **kwargs
            )
        try:
            sock = bind_in_range(local_addr[0], self._ports)
        except UdpPortsExhausted:
            for transport in self._opened:
                transport.close()
            raise
        try:
            transport, protocol = await self._loop.create_datagram_endpoint(
                protocol_factory, sock=sock
            )
        except BaseException:
            sock.close()
            raise
        self._opened.append(transport)
        return transport, protocol


def gathering_loop() -> Any:
    """The running loop, or a `PortRangeLoop` on it inside a `udp_ports(...)` block."""
    loop = asyncio.get_running_loop()
    ports = _UDP_PORTS.get()
    return loop if ports is None else PortRangeLoop(loop, ports)


# --- candidates and descriptions --------------------------------------------------------------


def with_public_address(sdp: str, public_address: str) -> str:
    """Advertise host candidates at the public address (a 1:1 NAT in front of the SFU)."""
    if not public_address:
        return sdp
    return _HOST_CANDIDATE.sub(lambda m: m.group(1) + public_address + m.group(3), sdp)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a hostname, such as a browser's mDNS `.local` name


def _loopback_only(ice: IceConfig) -> bool:
    return bool(ice.host_addresses) and all(_is_loopback(a) for a in ice.host_addresses)


def reachable_candidates(sdp: str, ice: IceConfig) -> str:
    """With loopback host addresses (tests, benchmarks) keep only loopback remote candidates:
    nothing is sent to another address, and no mDNS name is resolved on the network."""
    if not _loopback_only(ice):
        return sdp
    return _CANDIDATE_LINE.sub(lambda m: m.group(0) if _is_loopback(m.group(1)) else "", sdp)


async def set_local_description(
    pc: RTCPeerConnection, description: RTCSessionDescription, ice: IceConfig
) -> str:
    """Apply our offer or answer, gathering as `ice` says; the SDP to send the browser."""
    with host_addresses(ice.host_addresses), udp_ports(ice.udp_ports):
        await pc.setLocalDescription(description)
    return with_public_address(pc.localDescription.sdp, ice.public_address)


async def add_candidate(
    pc: RTCPeerConnection, line: str, mid: str | None, index: int | None, ice: IceConfig
) -> None:
    """Add a browser's trickled candidate (`candidate:...`); an empty line ends candidates."""
    if not line:
        await pc.addIceCandidate(None)
        return
    try:
        candidate = candidate_from_sdp(line.removeprefix("candidate:"))
        if _loopback_only(ice) and not _is_loopback(candidate.ip):
            return
        candidate.sdpMid = mid
        candidate.sdpMLineIndex = index
        await pc.addIceCandidate(candidate)
    except Exception:
        raise NegotiationError("malformed ICE candidate") from None
