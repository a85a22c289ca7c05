"""The demo's advisory seeding: three profiled customers with orders and evidence, once."""

from __future__ import annotations

from sqlalchemy import Engine

from finbridge.banking import GuardDecision, PostingIntent, Verdict
from finbridge.cli.demo_advisory import seed_advisory
from finbridge.cli.demo_data import load_demo_data
from finbridge.core import ManualClock, Principal, PrincipalKind, Settings
from finbridge.identity import StepUpGuard
from finbridge.platform import Platform

ACTOR = Principal.system("test")


class OnlineStepsUp:
    """Like the real engine for a seeded customer with no session: a customer's own posting is
    asked for a second factor (which seeding cannot give); the bank's approve."""

    def check(self, intent: PostingIntent) -> GuardDecision:
        if intent.actor.kind is PrincipalKind.CUSTOMER:
            return GuardDecision(Verdict.STEP_UP, ("a new device",), "t")
        return GuardDecision.approve("t")

    def settle(self, intent: PostingIntent, decision: GuardDecision, *, posted: bool,
               reason: str | None) -> None:  # fmt: skip
        return None


def test_demo_seeds_profiles_orders_and_evidence_once(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=OnlineStepsUp()))
    load_demo_data(platform, limit=20)
    summary = seed_advisory(platform)
    assert summary is not None and "profiles C1, C3, C5" in summary
    assert "refused" not in summary, summary  # every seeded order passes the guard
    evidence = platform.advisory.evidence(ACTOR)
    outcomes = {e.outcome for e in evidence}
    assert {"match", "warning_required", "refused_c1"} <= outcomes
    assert all(e.product_level <= f"R{e.category[1]}" for e in evidence
               if e.outcome == "match" and e.category)  # fmt: skip
    customers = {e.customer_id for e in evidence}
    assert len(customers) == 3
    holdings = [h for c in customers for h in platform.advisory.holdings(ACTOR, c)]
    assert {h.product_code for h in holdings} == {"FB-USD-DEP"}  # T+0 settles today
    orders = [o for c in customers for o in platform.advisory.orders(ACTOR, c)]
    assert len(orders) == 10 and sum(o.status == "pending" for o in orders) == 7
    choices = [platform.advisory.rebalancing_choice(ACTOR, c) for c in customers]
    assert sum(1 for c in choices if c is not None and c.automatic) == 1
    assert seed_advisory(platform) is None  # idempotent
    assert len(platform.advisory.evidence(ACTOR)) == len(evidence)
    platform.close()
