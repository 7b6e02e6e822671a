"""The SFU's C sender, loaded and checked: `FFI` and `LIB` (None when unavailable, `WHY` says why).

The C (sender.c, declared in sender.h) makes a frame into SRTP packets for each subscriber of
its track and sends them with one `sendmmsg` each (`atelier_send_frame`); each subscriber
writer's state lives in an `atelier_dest`. The packaging builds it (sfu/native/build.py, from
setup.py) where a C compiler exists; without it, or when the built module comes from other
sources than the ones beside it (its `atelier_source_hash`), `RtpWriter` sends from Python,
the same bytes, more slowly, and the SFU node says so when it starts.

`python -m sfu.native` says whether it is in use, and when it was not built, tries a build
in a temporary folder to show the compiler's own reason.

The constants of the header (`ATELIER_RING`, ...) are read from the module: the header is
their one source.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from typing import Any

from sfu.native.build import make_ffi, source_hash


def load() -> tuple[Any, Any, str]:
    """The built module's `ffi` and `lib`, and "", or (None, None, why) when it cannot serve."""
    try:
        _sender = importlib.import_module("sfu.native._sender")  # built by the packaging
    except ImportError as exc:
        return None, None, f"not built ({exc}); `make setup` or `pip install .` builds it"
    built = _sender.ffi.string(_sender.lib.atelier_source_hash()).decode()
    if built != source_hash():
        stale = "built from other sources than sfu/native/sender.{c,h} (left from an older version)"
        return None, None, f"{stale}: `make setup` or `pip install .` builds it again"
    return _sender.ffi, _sender.lib, ""


FFI, LIB, WHY = load()


def build_reason() -> str:
    """Build the C sender in a temporary folder: "" when it builds, else the compiler's
    reason (the packaging's own build says nothing under `pip --quiet`)."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            make_ffi(optional=False).compile(tmpdir=tmp)
    except Exception as exc:  # no compiler, no headers: what went wrong, as it said it
        return f"{type(exc).__name__}: {exc}"
    return ""


def main() -> int:
    """Report on the C sender (make runs this after installing): 0 either way, as the SFU
    works without it; a warning with the reason when it is not in use."""
    if LIB is not None:
        print("sfu: the C sender is built and matches its sources")
        return 0
    reason = build_reason() if "not built" in WHY else ""
    print(f"warning: the SFU's C sender is not in use: {WHY}", file=sys.stderr)
    if reason:
        print(f"warning: building it fails: {reason}", file=sys.stderr)
    print(
        "warning: the SFU works without it, sending from Python (more CPU per stream)",
        file=sys.stderr,
    )
    return 0
