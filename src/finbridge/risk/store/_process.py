"""Decision writes in a child process: its own interpreter, so its own GIL and its own core.

With the writer as a thread, the event loop and the writer share one GIL. The SQLite driver
releases the GIL around every row it steps, and winning it back from a busy event loop took
longer than the work itself: at 1,000 decisions/s the writer thread was busy 98 % of the time
for commits whose own CPU was a small fraction of that (measured with py-spy and commit timers),
and decisions queued behind it. Here the parent sends each batch down a pipe (one pickling, one
blocking receive that releases the GIL) and the child commits it on the otherwise idle core.

The contract is the writer's: a batch returns once committed; a duplicate event id raises
``IntegrityError`` (so the decision maker answers with the first stored decision); a child that died
or stopped answering raises ``ServiceUnavailable`` instead of hanging.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import pickle
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from operator import attrgetter
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from finbridge.core.errors import ServiceUnavailable
from finbridge.lake import Event
from finbridge.risk.decisions._port import Writes
from finbridge.risk.store._group_commit import COMMIT_TIMEOUT_S

STARTUP_TIMEOUT_S = 60.0
PICKLE_PROTOCOL = 5
# An event crosses the pipe as the tuple of its fields in constructor order (read off the
# dataclass, so a new field cannot be dropped): a tuple of primitives pickles and unpickles in
# about half the time of the Event and Writes objects (2-3 vs 4-7 us per decision each way).
_EVENT_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Event)))
Packed = list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]


def pack(bundles: Sequence[Writes]) -> bytes:
    """``bundles`` as the bytes one ``send_bytes`` carries to the writer process."""
    packed: Packed = [(b.decisions, b.cases, [_EVENT_FIELDS(e) for e in b.events]) for b in bundles]
    return pickle.dumps(packed, PICKLE_PROTOCOL)  # no object to reduce: the plain pickler


def unpack(packed: Packed) -> list[Writes]:
    """What :func:`pack` sent, as the writer process receives it."""
    return [Writes(d, c, [Event(*e) for e in events]) for d, c, events in packed]


class ProcessWriter:
    """A ``write(bundles)`` callable for :class:`GroupCommitWriter`, run in a child process."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            raise ValueError("a writer process needs a database file or server, not :memory:")
        context = multiprocessing.get_context("spawn")  # no inherited threads or connections
        # One duplex pipe for threads (this class's call, under a lock), and a one-way pair for
        # an event loop (``LoopWriter``: it writes batches without blocking and reads answers
        # when they arrive), so neither side waits for the other's answer.
        self._conn, child = context.Pipe()
        batches_in, self.loop_batches = context.Pipe(duplex=False)
        self.loop_answers, answers_out = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve,
            args=(child, batches_in, answers_out, url.render_as_string(hide_password=False)),
            name="risk-decision-writer",
            daemon=True,
        )
        self._process.start()
        for end in (child, batches_in, answers_out):
            end.close()
        self._lock = threading.Lock()
        self._closed = False
        # Wait for the child to have imported and connected, so the first decisions do not
        # sit out its start-up (seconds on a busy machine) behind a commit.
        try:
            ready = self._conn.poll(STARTUP_TIMEOUT_S) and self._conn.recv() == ("ready", None)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise ServiceUnavailable("the decision writer process did not start")

    def __call__(self, bundles: list[Writes]) -> None:
        with self._lock:
            if self._closed:
                raise ServiceUnavailable("the decision writer has been closed")
            try:
                self._conn.send_bytes(pack(bundles))
                if not self._conn.poll(COMMIT_TIMEOUT_S):
                    raise ServiceUnavailable("the decision writer process did not answer in time")
                status, detail = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise ServiceUnavailable(f"the decision writer process is gone ({exc!r})") from None
        if status == "integrity":
            raise IntegrityError(detail, None, Exception(detail))
        if status != "ok":
            raise ServiceUnavailable(f"the decision writer failed: {detail}")

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError):  # already gone: nothing to tell it
                self._conn.send(None)
            self._conn.close()
            self.loop_batches.close()
            self.loop_answers.close()
        self._process.join(timeout=COMMIT_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


def _serve(conn: Connection, batches: Connection, answers: Connection, url: str) -> None:
    from finbridge.risk.store._sql import write_bundles
    from finbridge.store.engine import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect():
            pass  # fail here, not on the first batch, if the database is unreachable
        conn.send(("ready", None))
        reply_on = {conn: conn, batches: answers}  # where each request's answer goes
        while reply_on:
            for ready in wait(list(reply_on)):
                assert isinstance(ready, Connection)
                try:
                    bundles: Any = ready.recv()
                except EOFError:
                    del reply_on[ready]  # that side went away
                    continue
                if bundles is None:
                    return  # asked to stop
                reply_on[ready].send(_commit(write_bundles, engine, unpack(bundles)))
    finally:
        engine.dispose()


def _commit(write: Any, engine: Any, bundles: Any) -> tuple[str, str | None]:
    try:
        write(engine, bundles)
    except IntegrityError as exc:
        return ("integrity", str(exc.orig))
    except Exception as exc:  # reported to the waiting decisions, never swallowed
        return ("error", f"{type(exc).__name__}: {exc}")
    return ("ok", None)
