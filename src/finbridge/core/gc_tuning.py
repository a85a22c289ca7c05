"""The garbage collector's thresholds for a serving process (the site's and the gateway's).

Young collections every 50,000 allocations instead of 700: a request's objects are then freed
by reference counting before any collection sees them, instead of being promoted and
triggering a full pass; and a full pass (it walks the whole start-up heap: models, catalogues,
compiled statements; ~0.15 s on a quiet core, far longer under load, every request in flight
waiting) after 100 middle ones, not 10. Measured: the gateway's full passes came every few
seconds at 1,000 decisions/s; the customer app's PostgreSQL p95 at 50 customers fell from
754 / 568 ms to 241 / 145 ms (home / transaction list, load 5-6, docs/benchmarks.md).
``gc.freeze()`` was tried instead in the gateway: the process then crashed at SIGINT now and
then under CPU contention (3 of 8 shutdowns; 0 of 8 without).
"""

from __future__ import annotations

import gc

SERVING_THRESHOLDS = (50_000, 20, 100)


def tune_for_serving() -> None:
    gc.set_threshold(*SERVING_THRESHOLDS)
