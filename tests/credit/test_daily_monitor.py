"""The live credit model's daily monitor: score PSI of the day's records against its training
sample, a quiet day as ``no_traffic``."""

from __future__ import annotations

from datetime import UTC, datetime

from finbridge.core import ManualClock, Principal
from finbridge.credit import CreditService
from finbridge.credit.registry import ModelRegistry
from finbridge.lake.monitoring import NO_TRAFFIC, MonitorStore

from .test_registry import _allow, _register

ADMIN = Principal.system("credit-test")


def test_live_scorecard_monitored_per_day(engine, clock: ManualClock, german_scorecard,
                                          german_split) -> None:  # fmt: skip
    registry = ModelRegistry(engine, clock)
    service = CreditService(registry, consent=None)  # type: ignore[arg-type]
    store = MonitorStore(engine, clock)
    v1 = _register(registry, german_scorecard, german_split)
    registry.promote(ADMIN, "german", v1.version)
    clock.set(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    day = clock.now().date()

    (quiet,) = service.monitor(ADMIN, store, day)
    assert (quiet.model, quiet.status, quiet.score_psi) == ("german", NO_TRAFFIC, None)

    _, Xte, _, _ = german_split
    for i in range(40):
        registry.score(ADMIN, "german", Xte.iloc[i].to_dict(), customer_id=f"c{i}",
                       consent=_allow)  # fmt: skip
    (run,) = service.monitor(ADMIN, store, day)
    assert run.n_current == 40 and run.n_reference > 40
    assert run.score_psi is not None and run.status in {"stable", "alert", "retrain"}
    assert run.performance == {"status": "not_run"}
    assert [r.day for r in store.history(ADMIN, engine="credit")] == [day]
