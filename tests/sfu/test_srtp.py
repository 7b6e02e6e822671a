"""`sfu.srtp`: the one reach into pylibsrtp's private parts fails here, loudly, when a pylibsrtp
release moves them (the byte-for-byte checks of each path are with the paths: test_sending,
test_receiving, test_sender_reports, test_native)."""

from __future__ import annotations

import importlib

import pylibsrtp
from pylibsrtp import Policy, Session

from sfu.srtp import c_protect, fast_protect, fast_unprotect


def session(direction: int) -> Session:
    return Session(Policy(key=bytes(range(30)), ssrc_type=direction))


def test_the_pylibsrtp_parts_the_sfu_reaches_are_still_there() -> None:
    assert pylibsrtp.__version__.startswith("1.")
    tx = session(Policy.SSRC_ANY_OUTBOUND)
    assert {"_srtp", "_cdata", "_buffer"} <= set(vars(tx))
    binding = importlib.import_module("pylibsrtp._binding")
    for name in ("srtp_protect", "srtp_protect_rtcp", "srtp_unprotect", "srtp_unprotect_rtcp"):
        assert hasattr(binding.lib, name), name
    function, context = c_protect(tx)
    assert function and context
    assert function == c_protect(session(Policy.SSRC_ANY_OUTBOUND))[0]  # one libsrtp


def test_a_packet_protected_the_fast_way_is_read_back_the_fast_way() -> None:
    packet = bytes([0x80, 96, 0, 1]) + bytes(8) + b"payload"
    protected = fast_protect(session(Policy.SSRC_ANY_OUTBOUND))(packet[:12], packet[12:])
    assert protected != packet
    assert fast_unprotect(session(Policy.SSRC_ANY_INBOUND), rtcp=False)(protected) == packet
