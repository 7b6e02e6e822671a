"""Merging Yjs updates in a process of its own, for the document store's large compactions.

pycrdt's `merge_updates` holds the GIL for its whole run, in proportion to the document's
size: merging a large document in a thread would still stop the event loop, and every user of
the worker with it, at each compaction (figures in docs/benchmarks.md, "Document store"). This
module is all the merging process imports.
"""

from __future__ import annotations

import signal

from pycrdt import merge_updates


def ignore_interrupts() -> None:
    """Process initializer: Ctrl-C reaches the whole process group; the server handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def merge(parts: list[bytes]) -> bytes:
    return merge_updates(*parts)
