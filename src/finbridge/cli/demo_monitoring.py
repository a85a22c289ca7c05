"""The demo's monitoring page: a turn of monitoring over what the demo seeded.

The demo's card payments are posted straight to the ledger (no decision per payment), so the
live fraud model's days come from a replay of those same payments, with their handbook labels
known one week after each payment (the handbook's feedback delay): real score PSI, CSI and
AUC/AP/KS. The live credit scorecard's days come from its score records (the lending demo's
applications). Idempotent: a demo that finds the replay's runs leaves them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta

from finbridge.cli.demo_data import CARDS_FILE, replay_shift
from finbridge.core.principal import Principal
from finbridge.platform import Platform, monitor_replay, monitor_store, run_monitors

_ACTOR = Principal.system("demo")
CREDIT_DAYS = 14


def seed_monitoring(platform: Platform, say: Callable[[str], None]) -> str | None:
    store = monitor_store(platform)
    # The close of business monitors every day it closes (the lending demo closes two months):
    # those runs say the live model had no traffic. Only runs that saw payments mean the
    # replay was seeded already.
    if any(r.n_current for r in store.history(_ACTOR, engine="risk", model="fraud")):
        return "monitor runs found"
    say("monitoring the live fraud and credit models over the demo's days")
    shift = replay_shift(platform.clock.now(), platform.settings.business_timezone)
    risk = monitor_replay(platform, _ACTOR, CARDS_FILE, shift=shift)
    today = platform.clock.now().astimezone(UTC).date()
    credit = []
    for back in range(CREDIT_DAYS, 0, -1):
        credit += run_monitors(platform, _ACTOR, today - timedelta(days=back), engines=("credit",))
    scored = sum(1 for r in credit if r.n_current)
    return f"{len(risk)} fraud-model days, {scored} credit-model days with scores"
