"""Money is conserved per currency under random sequences of payments, refunds, P2P transfers,
FX conversions and transfers abroad (settled, rejected, or returned days later by the simulated
correspondent), FX position, fee income and clearing accounts included, and every balance
matches a Python model of what each operation promised (the quoted amounts, the fee, the
refunds, the money back exactly on a rejection or a return)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from tests.payments.conftest import currency_sums
from tests.settings_support import test_settings as make_settings

from finbridge.banking import BankingService, InternalAccount
from finbridge.core import BusinessRuleViolation, FinbridgeError, ManualClock, Money, Principal
from finbridge.payments import (
    Beneficiary,
    PaymentsService,
    ReferenceRates,
    SimulatedCorrespondent,
)

CURRENCIES = ("CNY", "USD", "JPY")
SYSTEM = Principal.system("prop")
HANS = Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                   iban="DE89370400440532013000")  # fmt: skip
OUTCOMES = ("settle", "reject", "return")

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400"), places=2)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 1), amounts),
        st.tuples(st.just("refund"), st.integers(0, 20), amounts),
        st.tuples(st.just("p2p"), st.integers(0, 1), amounts),
        st.tuples(st.just("fx"), st.sampled_from(["CNY>USD", "USD>JPY", "JPY>CNY", "USD>CNY"]),
                  amounts),
        st.tuples(st.just("abroad"), st.integers(0, 2), amounts),
    ),
    min_size=1,
    max_size=12,
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=ops)
def test_money_is_conserved_per_currency(
    sqlite_engine: Engine, tmp_path: Path, rates: ReferenceRates, sequence: list[tuple]
) -> None:
    clock = ManualClock(datetime(2026, 11, 2, 1, 30, tzinfo=UTC))
    bank = BankingService(sqlite_engine, clock)
    pay = PaymentsService(sqlite_engine, clock, make_settings(tmp_path / "d"), banking=bank,
                          rates=rates)  # fmt: skip
    people = []
    for i in range(2):
        cid = bank.create_customer(SYSTEM, kind="personal", display_name=f"P{i}").id
        accs = {}
        for code in CURRENCIES:
            acc = bank.open_account(SYSTEM, cid, kind="current", currency_code=code).id
            seed = Money.of("100000" if code == "JPY" else "1000", code)
            bank.deposit(SYSTEM, acc, seed, idempotency_key=f"seed-{acc}")
            accs[code] = acc
        people.append((Principal.customer(cid), accs))
    shop_cid = bank.create_customer(SYSTEM, kind="corporate", display_name="Shop").id
    shop_acc = bank.open_account(SYSTEM, shop_cid, kind="current", currency_code="CNY").id
    merchant = pay.merchants.onboard(Principal.system("ops"), name="Shop", mcc="5411",
                                     settlement_account_id=shop_acc, fee_rate="0.0125")  # fmt: skip
    fx_ids = {c: bank.internal_account_id(InternalAccount.FX_POSITION, c) for c in CURRENCIES}
    fee_ids = {c: bank.internal_account_id(InternalAccount.FEE_INCOME, c) for c in CURRENCIES}

    def bal(account: str) -> int:
        return bank.balance(SYSTEM, account).balance.minor

    start = {a: bal(a) for a in [*fx_ids.values(), *fee_ids.values()]}
    expected: dict[str, int] = defaultdict(int)  # account -> change in minor units
    payments = []
    for n, (kind, who, raw) in enumerate(sequence):
        try:
            if kind == "pay":
                actor, accs = people[who]
                amount = Money.of(raw, "CNY")
                code = pay.merchants.create_code(SYSTEM, merchant.id, amount=amount)
                p = pay.payments.pay(actor, code.payload, from_account_id=accs["CNY"],
                                     idempotency_key=f"p{n}")  # fmt: skip
                expected[accs["CNY"]] -= p.amount.minor
                expected[shop_acc] += (p.amount - p.fee).minor
                expected[fee_ids["CNY"]] += p.fee.minor
                payments.append((p, accs["CNY"]))
            elif kind == "refund" and payments:
                p, payer_acc = payments[who % len(payments)]
                r = pay.payments.refund(SYSTEM, p.id, amount=Money.of(raw, "CNY"),
                                        idempotency_key=f"r{n}")  # fmt: skip
                expected[payer_acc] += r.amount.minor
                expected[shop_acc] -= (r.amount - r.fee_returned).minor
                expected[fee_ids["CNY"]] -= r.fee_returned.minor
            elif kind == "p2p":
                actor, accs = people[who]
                _, other = people[1 - who]
                sent = pay.payments.send(actor, from_account_id=accs["CNY"],
                                         to_account_id=other["CNY"], amount=Money.of(raw, "CNY"),
                                         idempotency_key=f"t{n}")  # fmt: skip
                expected[accs["CNY"]] -= sent.amount.minor
                expected[other["CNY"]] += sent.amount.minor
            elif kind == "fx":
                actor, accs = people[0]
                sell, buy = str(who).split(">")
                amount = Money.rounded(raw, sell)
                q = pay.fx.quote(actor, actor.customer_id or "", sell_currency=sell,
                                 buy_currency=buy, sell_amount=amount)  # fmt: skip
                pay.fx.execute(actor, q.id, from_account_id=accs[sell],
                               to_account_id=accs[buy])  # fmt: skip
                expected[accs[sell]] -= q.sell.minor
                expected[fx_ids[sell]] += (q.sell - q.fee).minor
                expected[fee_ids[sell]] += q.fee.minor
                expected[fx_ids[buy]] -= q.buy.minor
                expected[accs[buy]] += q.buy.minor
            elif kind == "abroad":
                actor, accs = people[0]
                sent = pay.crossborder.send(actor, from_account_id=accs["USD"], beneficiary=HANS,
                                            amount=Money.of(raw, "USD"),
                                            idempotency_key=f"x{n}")  # fmt: skip
                outcome = OUTCOMES[int(who)]
                correspondent = SimulatedCorrespondent(
                    reject_rate=float(outcome == "reject"), return_rate=float(outcome == "return")
                )
                for _id, xml in pay.crossborder.export_pacs008(SYSTEM):
                    for answer in correspondent.process(xml):  # the status first, a return later
                        pay.crossborder.receive(SYSTEM, answer.xml)
                final = pay.crossborder.get(SYSTEM, sent.id)
                assert final.status == {"settle": "settled", "reject": "rejected",
                                        "return": "returned"}[outcome]  # fmt: skip
                if outcome == "settle":
                    expected[accs["USD"]] -= sent.amount.minor
        except (BusinessRuleViolation, FinbridgeError):
            continue  # a refused operation (over-refund, too small, no funds) changes nothing
    assert all(v == 0 for v in currency_sums(sqlite_engine).values())
    for account, delta in expected.items():
        base = start.get(account)
        if base is None:  # customers' and the shop's accounts: their seed is known
            continue
        assert bal(account) - base == delta, account
    for _actor, accs in people:
        for code, acc in accs.items():
            seed = Money.of("100000" if code == "JPY" else "1000", code).minor
            assert bal(acc) == seed + expected[acc], (code, acc)
    assert bal(shop_acc) == expected[shop_acc]
    for p, _ in payments:
        assert pay.payments.get(SYSTEM, p.id).refunded <= p.amount
