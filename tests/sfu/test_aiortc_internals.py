"""The SFU's reach into aiortc and aioice: nothing happens on import, `install()` puts every
patch in place, and an upgrade that moves a private part the SFU uses fails here, loudly,
naming it: the private attributes on real aiortc objects, and the source of every upstream
function the SFU copies, replaces or relies on, as it was written against."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import subprocess
import sys
from typing import Any

import aioice.ice
import aiortc
import aiortc.clock
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from sfu import aiortc_internals
from sfu.aiortc_internals import (
    PATCHES,
    WRITTEN_AGAINST,
    DatagramReceiver,
    DtlsInternals,
    HeaderExtensionsMapInternals,
    ReceiverInternals,
    SenderInternals,
    TransceiverInternals,
)
from tests.support.servers import ROOT

# The source of each upstream function as the SFU was written against it (sha256, 16 digits),
# and where the SFU depends on it. A change here means: read the new upstream code, carry
# the change over to the SFU's side, then update the digest.
UPSTREAM = {
    # copied as `SyncRtpHandler` (sfu/frame_assembly.py)
    "aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet": "4e54983d021a6336",
    # wrapped, replaced and redirected per subscriber sender (sfu/sending.py, sfu/peers.py)
    "aiortc.rtcrtpsender.RTCRtpSender.send": "3969482b77a2a65f",
    "aiortc.rtcrtpsender.RTCRtpSender._retransmit": "ae0b2491944b52dc",
    "aiortc.rtcrtpsender.RTCRtpSender._run_rtcp": "51e0a924eac4e39b",
    "aiortc.rtcrtpsender.RTCRtpSender._send_keyframe": "26c49629470d1928",
    # their SRTP branch is `FastReceive` (sfu/receiving.py), and `parse_rtp` mirrors `parse`
    "aiortc.rtcdtlstransport.RTCDtlsTransport._recv_next": "998076720c05aa13",
    "aiortc.rtcdtlstransport.RTCDtlsTransport._handle_rtp_data": "5def9061cc3da1f6",
    "aiortc.rtp.RtpPacket.parse": "22109861dfce7bab",
    # overridden by `FrameAssembler` (sfu/frame_assembly.py)
    "aiortc.jitterbuffer.JitterBuffer._remove_frame": "3ffad0bfb07f58e6",
    # patched process-wide by `install()`
    "aiortc.rtcdtlstransport.RTCCertificate.getFingerprints": "070e4911b1a4740d",
    "aiortc.clock.current_ms": "bc69ad1e4d368eb9",
    "aioice.ice.get_host_addresses": "d4a54f9a68c39ff1",
    "aioice.ice.Connection.get_component_candidates": "118597a9fcb703f9",
}

FRESH_IMPORT = """
import gc, importlib, json, logging, pkgutil
import aioice.ice, aiortc.clock
from aiortc.rtcdtlstransport import RTCCertificate
def upstream():
    return [aioice.ice.get_host_addresses, aioice.ice.asyncio, RTCCertificate.getFingerprints,
            aiortc.clock.current_ms]
before, frozen = upstream(), gc.get_freeze_count()
import sfu
modules = sorted(m.name for m in pkgutil.walk_packages(sfu.__path__, "sfu.")
                 if not m.name.endswith("__main__"))
for name in modules:
    importlib.import_module(name)
from sfu import aiortc_internals
print(json.dumps({
    "modules": modules,
    "upstream": [a is b for a, b in zip(before, upstream())],
    "installed": aiortc_internals.installed(),
    "frozen": gc.get_freeze_count() - frozen,
    "aioice_log_level": logging.getLogger("aioice.ice").level,
}))
"""


def digest(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def upstream_function(dotted: str) -> object:
    for patch in PATCHES:  # once installed, the original is the patch's
        owner = getattr(patch.owner, "__qualname__", getattr(patch.owner, "__name__", ""))
        if dotted.endswith(f"{owner}.{patch.name}"):
            return patch.original
    module, _, rest = dotted.partition(".")
    found: object = __import__(module)
    for part in rest.split("."):
        found = getattr(found, part)
    return found


def test_importing_every_sfu_module_changes_nothing_in_aiortc_nor_the_collector() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH_IMPORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert {"sfu.node", "sfu.peers", "sfu.sending", "sfu.native"} <= set(seen["modules"])
    assert seen["upstream"] == [True, True, True, True]
    assert not seen["installed"]
    assert seen["frozen"] == 0  # the garbage collector is tuned by the app, once started
    assert seen["aioice_log_level"] == logging.NOTSET


def test_install_puts_every_patch_in_place_and_may_run_twice() -> None:
    aiortc_internals.install()
    aiortc_internals.install()
    assert aiortc_internals.installed()
    assert aioice.ice.get_host_addresses is aiortc_internals.get_host_addresses
    assert aiortc.clock.current_ms is aiortc_internals.current_ms
    assert RTCCertificate.getFingerprints is aiortc_internals.get_fingerprints
    assert logging.getLogger("aioice.ice").level == logging.WARNING
    # the replacements keep upstream's signatures
    for patch in PATCHES:
        if callable(patch.original) and inspect.isfunction(patch.original):
            ours = inspect.signature(patch.replacement).parameters
            assert list(ours) == list(inspect.signature(patch.original).parameters), patch.name


def test_the_versions_pinned_are_those_it_was_written_against() -> None:
    assert aiortc.__version__ == WRITTEN_AGAINST["aiortc"]
    assert aioice.__version__ == WRITTEN_AGAINST["aioice"]


def test_the_upstream_functions_the_sfu_copies_or_replaces_are_as_written_against() -> None:
    changed = {
        name: digest(upstream_function(name))
        for name, expected in UPSTREAM.items()
        if digest(upstream_function(name)) != expected
    }
    assert not changed, f"aiortc/aioice changed these since the SFU was written: {changed}"


def attributes(view: type) -> list[str]:
    return [name for name in view.__annotations__ if not name.startswith("__")]


def missing(obj: object, view: type) -> list[str]:
    methods = [n for n, v in vars(view).items() if inspect.isfunction(v) and n[:2] != "__"]
    names = attributes(view) + methods
    return [name for name in names if not hasattr(obj, name)]


async def test_every_private_attribute_the_sfu_uses_is_still_there() -> None:
    dtls = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    receiver = RTCRtpReceiver("video", dtls)
    sender = RTCRtpSender("video", dtls)
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        connection = dtls.transport._connection
        protocol = aioice.ice.StunProtocol(connection)
        found = {
            "ReceiverInternals": missing(receiver, ReceiverInternals),
            "SenderInternals": missing(sender, SenderInternals),
            "DtlsInternals": missing(dtls, DtlsInternals),
            "HeaderExtensionsMapInternals": missing(
                HeaderExtensionsMap(), HeaderExtensionsMapInternals
            ),
            "TransceiverInternals": missing(transceiver, TransceiverInternals),
            "DatagramReceiver": missing(protocol, DatagramReceiver),
            "aioice Connection": [
                n for n in ("_nominated", "_protocols", "_queue") if not hasattr(connection, n)
            ],
        }
        assert attributes(ReceiverInternals) and attributes(SenderInternals)
        assert not any(found.values()), found
        # A jitter buffer's private fields `FrameAssembler` reads.
        buffer = JitterBuffer(capacity=16, is_video=True)
        assert all(hasattr(buffer, n) for n in ("_origin", "_packets", "_capacity", "_is_video"))
        assert hasattr(RtpPacket.parse(bytes([0x80, 96]) + bytes(10)), "payload")
    finally:
        await pc.close()
