"""The aiortc adapter's ICE rules: loopback-only SFUs never use other remote candidates."""

from __future__ import annotations

from sfu.config import IceConfig
from sfu.ice import reachable_candidates, with_public_address

OFFER = (
    "v=0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50001 typ host\r\n"
    "a=candidate:2 1 udp 2122260223 192.0.2.7 50002 typ host\r\n"
    "a=candidate:3 1 udp 2122260223 0b9c0e6b-7d5e.local 50003 typ host\r\n"
    "a=candidate:4 1 udp 1686052607 203.0.113.9 50004 typ srflx raddr 0.0.0.0 rport 0\r\n"
    "a=end-of-candidates\r\n"
)


def test_a_loopback_sfu_keeps_only_loopback_remote_candidates() -> None:
    kept = reachable_candidates(OFFER, IceConfig(host_addresses=("127.0.0.1",)))
    assert "127.0.0.1 50001" in kept
    for dropped in ("192.0.2.7", ".local", "203.0.113.9"):
        assert dropped not in kept
    assert kept.endswith("a=end-of-candidates\r\n")


def test_an_sfu_on_real_interfaces_keeps_every_candidate() -> None:
    assert reachable_candidates(OFFER, IceConfig()) == OFFER
    assert reachable_candidates(OFFER, IceConfig(host_addresses=("10.0.0.5",))) == OFFER


def test_the_public_address_replaces_host_candidates_only() -> None:
    answer = "a=candidate:1 1 udp 2122260223 10.0.0.5 40000 typ host\r\n"
    answer += "a=candidate:2 1 udp 1686052607 198.51.100.3 40000 typ srflx raddr 10.0.0.5\r\n"
    public = with_public_address(answer, "198.51.100.3")
    assert "198.51.100.3 40000 typ host" in public
    assert "10.0.0.5 40000 typ host" not in public
    assert "raddr 10.0.0.5" in public
