"""Build the model portfolios in a child process and hand the report back.

The walk-forward is tens of seconds of pure-Python and numpy work that holds the GIL most of
the time: built in a thread of a served process it stalled every request the server answered
meanwhile (the customer app's p95 and p99 on a fresh start came from it). A spawned child has
its own interpreter, so the server's threads keep the GIL; the parent waits on a pipe (no GIL
held) and receives the pickled report. The child runs at the lowest CPU priority (nice 19), so
it takes only the CPU the server and its database leave.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from datetime import date
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finbridge.advisory.portfolios import ModelReport


def build_in_child(max_turnover: float | None, *, end: date | None = None) -> ModelReport:
    """``build_models(max_turnover=..., end=...)`` run in a spawned child; its error is raised
    here."""
    ctx = multiprocessing.get_context("spawn")  # not fork: the parent has threads and sockets
    receiving, sending = ctx.Pipe(duplex=False)
    # daemon: a server that stops meanwhile does not wait for the build
    child = ctx.Process(
        target=_build_and_send,
        args=(sending, max_turnover, end),
        name="advisory-models",
        daemon=True,
    )
    child.start()
    sending.close()  # ours closed, so recv() ends with EOFError if the child dies
    try:
        answer = receiving.recv()
    except EOFError:
        raise RuntimeError("the model-building process ended without a report") from None
    finally:
        receiving.close()
        child.join(timeout=10)
    if isinstance(answer, BaseException):
        raise answer
    return answer  # type: ignore[no-any-return]


def _build_and_send(sending: Connection, max_turnover: float | None, end: date | None) -> None:
    # Lowest priority: on a machine of two cores a full-speed build took a core from the server
    # and its database for the build's tens of seconds (the app's p95 and p99 rose with it).
    with contextlib.suppress(OSError):
        os.nice(19)
    from finbridge.advisory.portfolios import build_models

    answer: object
    try:
        answer = build_models(max_turnover=max_turnover, end=end)
    except BaseException as exc:  # the parent raises it
        answer = exc
    with sending, contextlib.suppress(OSError):  # OSError: the parent is gone (server stopped)
        sending.send(answer)
