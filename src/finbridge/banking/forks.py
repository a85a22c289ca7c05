"""A counter of forks, so per-process state is renewed in a child without a syscall per use.

The posting path keeps per-process state (driver connections, the writer lock's descriptor,
the checkpointer thread) and used to compare ``os.getpid()`` on every posting: a system call
each time, three per transfer. A child process sees ``generation`` change instead.
"""

from __future__ import annotations

import os

generation = 0


def _forked() -> None:
    global generation
    generation += 1


os.register_at_fork(after_in_child=_forked)
