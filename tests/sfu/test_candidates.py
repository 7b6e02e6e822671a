"""Which ICE candidates the SFU takes from a participant: never its own machine's loopback,
link-local, multicast or unspecified addresses from a remote participant, only the address
family of the participant's own connection, no mDNS names; loopback from loopback (tests)."""

from __future__ import annotations

import pytest

from sfu.candidates import (
    address_allowed,
    candidate_address,
    candidate_allowed,
    without_refused_candidates,
)

REMOTE_V4 = "203.0.113.7"
REMOTE_V6 = "2001:db8::7"


def line(address: str, kind: str = "host") -> str:
    return f"candidate:1 1 udp 2122260223 {address} 54400 typ {kind} generation 0"


def test_the_address_of_a_candidate_line_is_read_with_or_without_the_sdp_prefix() -> None:
    assert candidate_address(line("192.168.1.20")) == "192.168.1.20"
    assert candidate_address("a=" + line("2001:db8::1", "srflx") + " raddr 0.0.0.0") == (
        "2001:db8::1"
    )
    assert candidate_address("") is None  # end of candidates
    assert candidate_address("candidate:nonsense") is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "169.254.10.20",
        "fe80::1c2a:3bff:fe4d:5e6f",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "239.255.255.250",
        "ff02::fb",
        "255.255.255.255",
        "::ffff:127.0.0.1",  # loopback in IPv4-mapped clothing
    ],
)
def test_a_remote_participant_may_not_aim_the_sfu_at_these_addresses(address: str) -> None:
    client = REMOTE_V6 if ":" in address and "." not in address else REMOTE_V4
    assert not address_allowed(address, client)
    assert not address_allowed(address, None)  # an unknown origin is a remote one


def test_a_remote_participant_gives_public_and_private_addresses_of_its_own_family() -> None:
    for address in ("198.51.100.20", "10.1.2.3", "192.168.1.20", "100.64.0.9"):
        assert address_allowed(address, REMOTE_V4)
        assert not address_allowed(address, REMOTE_V6)
    assert address_allowed("2001:db8:1::20", REMOTE_V6)
    assert not address_allowed("2001:db8:1::20", REMOTE_V4)
    # Behind a dual-stack listener an IPv4 client shows as IPv4-mapped IPv6: still IPv4.
    assert address_allowed("198.51.100.20", "::ffff:203.0.113.7")
    # Unknown origin: both families, nothing of the SFU's own machine.
    assert address_allowed("198.51.100.20", None) and address_allowed("2001:db8::20", None)


def test_mdns_and_other_names_are_never_taken() -> None:
    for name in ("4f0c6e1a-2b3c-4d5e-8f90-123456789abc.local", "sfu.example.org", "localhost"):
        assert not address_allowed(name, REMOTE_V4)
        assert not address_allowed(name, "127.0.0.1")


def test_a_participant_connected_from_loopback_may_give_loopback_addresses() -> None:
    assert address_allowed("127.0.0.1", "127.0.0.1")
    assert address_allowed("127.0.0.1", "::ffff:127.0.0.1")
    assert address_allowed("::1", "::1")
    assert not address_allowed("::1", "127.0.0.1")  # still its own family only
    assert not address_allowed("169.254.1.1", "127.0.0.1")
    assert address_allowed("192.168.1.20", "127.0.0.1")


def test_a_malformed_client_address_counts_as_unknown() -> None:
    assert not address_allowed("127.0.0.1", "testclient")
    assert address_allowed("198.51.100.20", "unknown")


def test_lines_that_are_not_candidates_are_left_to_the_peer_connection() -> None:
    assert candidate_allowed("", REMOTE_V4)  # end of candidates
    assert candidate_allowed("candidate:garbage", REMOTE_V4)  # aiortc refuses it clearly
    assert not candidate_allowed(line("127.0.0.1"), REMOTE_V4)
    assert candidate_allowed(line("127.0.0.1"), "127.0.0.1")


def test_an_sdp_loses_only_the_candidate_lines_it_may_not_give() -> None:
    sdp = (
        "v=0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        f"a={line('127.0.0.1')}\r\n"
        f"a={line('198.51.100.20')}\r\n"
        f"a={line('fe80::1')}\r\n"
        "a=candidate:3 1 udp 2122260223 abc.local 54402 typ host\r\n"
        "a=end-of-candidates\r\n"
        "a=mid:0\r\n"
    )
    kept = without_refused_candidates(sdp, REMOTE_V4)
    assert kept == (
        "v=0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        f"a={line('198.51.100.20')}\r\n"
        "a=end-of-candidates\r\n"
        "a=mid:0\r\n"
    )
    assert without_refused_candidates(sdp, "127.0.0.1").count("a=candidate") == 2
    last = f"a={line('127.0.0.1')}"  # the very last line, without a line break
    assert without_refused_candidates("v=0\r\n" + last, REMOTE_V4) == "v=0\r\n"
