"""The garbage collector of a process that runs nothing but Atelier, tuned once it is ready.

The one place for it: `atelier serve`'s app (web/app.py, `tune_gc`) and `atelier sfu`'s node
(web/visio/standalone.py) call `freeze_startup_heap` when start-up is over; no module does it
on import.
"""

from __future__ import annotations

import gc

# Young-generation size for the garbage collector in a server process (CPython's default: 700).
# Each full collection walks every live object with the event loop stopped; with the default, a
# reconnect storm of thousands of clients runs several of them, with 10,000 none: what survives
# is collected young, in short pauses, and steady traffic (short-lived objects) is unaffected
# (docs/benchmarks.md, "Garbage collector").
GC_YOUNG_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Move everything built so far out of the collector's sight, and enlarge its young
    generation.

    What start-up built (modules, templates, the app, compiled SQL; for the SFU, aiortc and
    its codecs: most of the heap) lives as long as the process. Frozen, it is no longer
    walked by full collections, which then take a fraction of the time with the event loop
    stopped (a meeting's joins trigger several, stalling a newcomer's offer or first frames).
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
