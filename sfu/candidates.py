"""Which ICE candidates of a participant the SFU takes (trickled, or in an offer or answer).

A candidate names an address the SFU then sends connectivity checks, and media, to. Taken
blindly, a participant could aim the SFU's UDP traffic at the SFU's own machine (loopback),
its link-local neighbours or a multicast group. So a candidate is taken only when its address
is of the family (IPv4 or IPv6) of the participant's own signaling connection, and is neither
unspecified, multicast, link-local, reserved, nor loopback, except that a participant whose
signaling connection itself comes from loopback (tests, benchmarks, a bot on the machine) may
give loopback addresses. Names are never taken: browsers' mDNS names (`<uuid>.local`) cannot
be resolved by the SFU, and a name would make it query the network.

Pure functions: no aiortc, no I/O. Reached from `sfu/node.py`, where each member carries the
address of its signaling connection.
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...`
_CANDIDATE = re.compile(r"^(?:a=)?candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ \S+")
_SDP_CANDIDATE_LINE = re.compile(r"^a=candidate:.*(?:\r?\n|$)", re.M)


def _ip(text: str | None) -> IPAddress | None:
    """An IP address (IPv4-mapped IPv6 read as the IPv4 it carries), else None."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def candidate_address(line: str) -> str | None:
    """The connection address of an ICE candidate line, or None when the line is not one
    (an empty end-of-candidates line, a malformed one: aiortc judges those)."""
    match = _CANDIDATE.match(line.strip())
    return match.group(1) if match else None


def address_allowed(address: str, client: str | None) -> bool:
    """May a participant whose signaling connection comes from `client` (None: unknown) give
    the SFU a candidate at `address`?"""
    candidate = _ip(address)
    if candidate is None:  # an mDNS or other name
        return False
    if (
        candidate.is_unspecified
        or candidate.is_multicast
        or candidate.is_link_local
        or (candidate.version == 4 and candidate.is_reserved)  # 240/4, 255.255.255.255
    ):
        return False
    origin = _ip(client)
    if candidate.is_loopback:
        return origin is not None and origin.is_loopback and origin.version == candidate.version
    return origin is None or origin.version == candidate.version


def candidate_allowed(line: str, client: str | None) -> bool:
    """`address_allowed` for a candidate line; lines that are not candidates are let through
    (the end of candidates, or a malformed line that aiortc refuses with a clear error)."""
    address = candidate_address(line)
    return address is None or address_allowed(address, client)


def without_refused_candidates(sdp: str, client: str | None) -> str:
    """The SDP without the `a=candidate` lines whose address `address_allowed` refuses."""

    def keep(match: re.Match[str]) -> str:
        line = match.group(0)
        address = candidate_address(line)
        return "" if address is not None and not address_allowed(address, client) else line

    return _SDP_CANDIDATE_LINE.sub(keep, sdp)
