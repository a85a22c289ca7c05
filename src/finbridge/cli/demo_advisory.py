"""Demo seeding for advisory, through the engine's face: three profiled customers (C1, C3, C5)
with USD accounts, orders within their levels (the bank's deposit settles the same day, funds
at T+1/T+2 through ``finbridge advisory settle`` or the close of business), the C3 customer
opted in to automatic rebalancing, and the suitability evidence a newcomer should see: matches,
a warning for an above-level product, a C1 refusal.

Idempotent: a demo whose chosen customers already have profiles seeds nothing. A step the
posting guard refuses (risk, step-up) is counted and skipped, as in the payments seeding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from finbridge.core.errors import FinbridgeError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")
_SKIP = 12  # the first personal customers are the payments demo's wallets

_BASE: dict[str, Any] = {
    "age": 40, "income": "300k_500k", "income_stability": "fairly_stable",
    "financial_assets": "500k_3m", "debt": "10_30", "investable_share": "30_50",
    "dependants": "two", "experience_years": "2_5", "products_used": "mixed",
    "knowledge": "fair", "horizon": "3_5", "objective": "balanced", "loss_tolerance": "5_15",
    "drop_reaction": "wait", "liquidity_need": "possible", "emergency_fund": "3_6",
}  # fmt: skip
_AGGRESSIVE = {**_BASE, "age": 32, "income": "over_1m", "income_stability": "very_stable",
               "financial_assets": "3m_10m", "debt": "none", "investable_share": "10_30",
               "dependants": "one", "experience_years": "over_10", "products_used": "derivatives",
               "knowledge": "expert", "horizon": "over_10", "objective": "max_growth",
               "loss_tolerance": "over_30", "drop_reaction": "buy_more",
               "liquidity_need": "never", "emergency_fund": "over_12"}  # fmt: skip

# (answers, orders as (product, USD amount), a product to check above the level)
PLANS: tuple[tuple[dict[str, Any], tuple[tuple[str, str], ...], str], ...] = (
    ({**_BASE, "experience_years": "none"}, (("FB-USD-DEP", "3000"), ("SHV", "1500")), "SPY"),
    (_BASE, (("FB-USD-DEP", "2000"), ("AGG", "2500"), ("IEF", "1500"), ("LQD", "1000")), "EEM"),
    (_AGGRESSIVE, (("FB-USD-DEP", "1000"), ("SPY", "3000"), ("QQQ", "2000"), ("SSO", "1000")),
     "SSO"),
)  # fmt: skip


def seed_advisory(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str | None:
    """Seed once; a summary line, or None when the demo customers already have profiles."""
    advisory, bank = platform.advisory, platform.banking
    people = [c for c in bank.list_customers(_ACTOR, limit=60).items if c.kind == "personal"]
    chosen = people[_SKIP : _SKIP + len(PLANS)]
    if len(chosen) < len(PLANS) or advisory.evidence(_ACTOR, customer_id=chosen[0].id, limit=1):
        return None
    say("seeding advisory: three risk profiles, USD fund orders, suitability evidence")
    refused: Counter[str] = Counter()
    orders = 0
    categories: list[str] = []
    for customer, (answers, buys, above) in zip(chosen, PLANS, strict=True):
        profile = advisory.submit_profile(_ACTOR, customer.id, answers)
        account = bank.open_account(_ACTOR, customer.id, kind="current", currency_code="USD").id
        bank.deposit(_ACTOR, account, Money.of("20000", "USD"), idempotency_key=f"adv-{account}")
        me = Principal.customer(customer.id)
        for code, amount in buys:
            try:
                # Placed by the bank (as at a branch, on the customer's signed form): a seeded
                # customer has no session to give the second factor the guard asks for online.
                advisory.subscribe(
                    _ACTOR, customer.id, account_id=account, product_code=code,
                    amount=Money.of(amount, "USD"), idempotency_key=f"demo-{customer.id}-{code}",
                )  # fmt: skip
                orders += 1
            except FinbridgeError as exc:
                refused[type(exc).__name__] += 1
        advisory.check_suitability(me, customer.id, above)  # a warning, or C1's refusal
        if profile.category == "C3":  # one customer lets the close of business rebalance
            advisory.choose_rebalancing(me, customer.id, account_id=account, automatic=True)
        categories.append(profile.category)
    settled = len(advisory.settle_due(_ACTOR))
    skipped = f", {sum(refused.values())} refused ({dict(refused)})" if refused else ""
    profiled = ", ".join(categories)
    return f"profiles {profiled}, {orders} orders ({settled} settled today){skipped}"
