"""Builds the SFU's C sender (sender.c, sender.h) as the cffi module `sfu.native._sender`.

Run by the packaging (setup.py's `cffi_modules`), so `pip install .` and the editable install
`make` does build it wherever a C compiler exists; the build is optional there: without a
compiler the install goes on, and the SFU sends from Python. Warnings are errors. The module
carries the hash of the sources it was built from (`atelier_source_hash`), which
`sfu.native` checks at load: a module left from older sources is not used.

Standard library only at import: `sfu.native` imports `source_hash` from here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
HEADER = HERE / "sender.h"
SOURCE = HERE / "sender.c"
MODULE = "sfu.native._sender"
COMPILE_ARGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"]


def source_hash() -> str:
    """The SHA-256 (hex) of the header and the source, in that order."""
    digest = hashlib.sha256()
    for path in (HEADER, SOURCE):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def declarations() -> str:
    """The header as cffi's parser takes it: without its include guard."""
    text = HEADER.read_text()
    return re.sub(r"^#(ifndef|endif|define ATELIER_SENDER_H).*$", "", text, flags=re.M)


def make_ffi(optional: bool = True) -> Any:
    """The cffi builder of `sfu.native._sender` (setup.py's `cffi_modules` calls this);
    `optional`: a failed build only warns (the packaging's), else it raises."""
    import cffi  # type: ignore[import-untyped]

    ffi = cffi.FFI()
    ffi.cdef(declarations())
    ffi.set_source(
        MODULE,
        '#include "sender.h"',
        sources=[str(SOURCE)],
        include_dirs=[str(HERE)],
        define_macros=[("ATELIER_SOURCE_HASH", f'"{source_hash()}"')],
        extra_compile_args=COMPILE_ARGS,
        optional=optional,  # no compiler: the install goes on, the SFU sends from Python
    )
    return ffi
