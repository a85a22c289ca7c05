"""Compile the risk engine's numba kernels into numba's on-disk cache, at install time.

`make setup` runs this after compiling the bytecode, for the same reason: a kernel is compiled
the first time a process calls it and cached beside its source (``cache=True``), so without this
the first process after an install (the first `finbridge serve`, each test worker of a fresh
clone's first run) spent 5-7 s compiling the velocity and tree kernels before its first decision.
Later processes load them from the cache in well under a second.
"""

from __future__ import annotations

import time

from finbridge.risk.decisions import InProcessVelocity, default_config
from finbridge.risk.models import load_default_model


def main() -> None:
    t0 = time.perf_counter()
    InProcessVelocity(default_config())  # its constructor warms the velocity kernel
    model = load_default_model()
    if model is not None:  # the shipped model: one-row and batch tree kernels
        row = dict.fromkeys(model.feature_names, 0.0)
        model.score(row)
        model.score_many([row, row])
    print(f"risk kernels compiled into numba's cache in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
