"""Merging Yjs updates in a process of its own, for the document store's large compactions.

pycrdt's `merge_updates` holds the GIL for its whole run (about 10 µs per kB here): merging a
2 MB document in a thread would still stop the event loop, and every user of the worker with
it, for ~25 ms at each compaction. This module is all the merging process imports.
"""

from __future__ import annotations

import signal

from pycrdt import merge_updates


def ignore_interrupts() -> None:
    """Process initializer: Ctrl-C reaches the whole process group; the server handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def merge(parts: list[bytes]) -> bytes:
    return merge_updates(*parts)
