"""Races on both backends: one refresh token used by many clients at once, the same person
registering twice at once, and many writers appending to the audit chain."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from finbridge.core.errors import AuthenticationFailed, Conflict
from finbridge.identity.services import IdentityServices

from .conftest import PASSWORD, ZHANG, enrol_customer


def _race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # collected and asserted on below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_refresh_token_race_revokes_the_family(ids: IdentityServices) -> None:
    enrol_customer(ids)
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is not None
    results = _race(8, lambda _: ids.sessions.refresh(tokens.refresh_token))
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) <= 1
    assert all(isinstance(r, AuthenticationFailed) for r in results if isinstance(r, Exception))
    for winner in winners:  # the family was revoked by the reuse, so even the winner is out
        try:
            ids.sessions.authenticate(winner.access_token)
            raise AssertionError("session should be revoked")
        except AuthenticationFailed:
            pass
    assert ids.audit.verify().ok


def test_same_person_registering_concurrently(ids: IdentityServices) -> None:
    results = _race(4, lambda _: ids.persons.register(ZHANG))
    ok = [r for r in results if not isinstance(r, Exception)]
    assert len(ok) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    report = ids.audit.verify()
    assert report.ok and report.checked == 4  # one success, three audited refusals


def test_concurrent_audit_appends_keep_one_chain(ids: IdentityServices) -> None:
    _race(16, lambda i: ids.audit.record(actor="t", action="x", subject=str(i), outcome="success"))
    report = ids.audit.verify()
    assert report.ok and report.checked == 16
