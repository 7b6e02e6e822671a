"""Benchmark-only variant of the Atelier server ("atelier-mb" in bench/sfu_bench.py).

Put on PYTHONPATH of `atelier serve`, this makes aiortc's RTCConfiguration default to the
max-bundle policy. With aiortc's default (balanced), a peer connection that offers several
video tracks at once leaves every video m-line after the first on a transport that bundling
then discards, so those videos never flow; this variant shows what the SFU does without that.
"""

from __future__ import annotations

import contextlib

with contextlib.suppress(ImportError):
    from aiortc import RTCBundlePolicy
    from aiortc.rtcconfiguration import RTCConfiguration

    defaults = list(RTCConfiguration.__init__.__defaults__ or ())
    RTCConfiguration.__init__.__defaults__ = tuple(
        RTCBundlePolicy.MAX_BUNDLE if d is RTCBundlePolicy.BALANCED else d for d in defaults
    )
