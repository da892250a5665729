"""The cyclic garbage collector in long-lived processes (ASGI servers, Celery
workers).

What a process loaded at start-up lives as long as it does: it is frozen out of
every later collection (a full collection in a server holding a thousand sockets
walked it all and stalled the event loop for 100-250 ms). Young collections run
every 50,000 allocations instead of 700: Django's request handling and the
matcher allocate fast, and at the default the collector ran several times per
request or matching run (docs/engine.md, "Garbage collector advice").
"""

import gc

LONG_LIVED_GC_THRESHOLD = (50_000, 20, 100)


def gc_tune_long_lived() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*LONG_LIVED_GC_THRESHOLD)
