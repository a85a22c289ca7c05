"""P2P by phone or account with the payee's masked name, request-money links, and limits per
customer and channel that hold under 16 concurrent payers."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.payments.conftest import Directory, WalletFn, currency_sums, customer_of
from tests.settings_support import test_settings as make_settings

from finbridge.banking import BankingService
from finbridge.core import (
    BusinessRuleViolation,
    Conflict,
    LimitExceeded,
    ManualClock,
    Money,
    NotFound,
    Principal,
    ValidationError,
)
from finbridge.core.settings import PaymentsSettings
from finbridge.payments import PaymentsService, ReferenceRates, mask_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("王小明", "**明"),
        ("Li Wei", "L** W**"),
        ("Alexandra", "A********"),
        ("", "***"),
        ("王**", "王**"),
        ("L* W**", "L* W**"),
    ],  # already masked (identity's customers): kept
)
def test_names_are_masked(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_p2p_by_phone_shows_the_masked_payee_then_sends(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, directory: Directory,
    engine: Engine,
) -> None:  # fmt: skip
    alice = wallets("Alice Chen", CNY="500")
    bob = wallets("王小明")
    directory.phones["+8613800138000"] = bob["CNY"].customer_id or ""
    actor = customer_of(alice["CNY"])
    payee = pay.payments.find_payee(actor, phone="+8613800138000")
    assert (payee.masked_name, payee.account_id) == ("**明", bob["CNY"].id)
    sent = pay.payments.send(actor, from_account_id=alice["CNY"].id, phone="+8613800138000",
                             amount=Money.of("120.50", "CNY"), idempotency_key="p",
                             note="dinner")  # fmt: skip
    assert sent.kind == "p2p" and sent.fee == Money.zero("CNY")
    system = Principal.system("t")
    assert bank.balance(system, bob["CNY"].id).balance == Money.of("120.50", "CNY")
    again = pay.payments.send(actor, from_account_id=alice["CNY"].id, phone="+8613800138000",
                              amount=Money.of("120.50", "CNY"), idempotency_key="p",
                              note="dinner")  # fmt: skip
    assert again.replayed and bank.balance(system, bob["CNY"].id).balance == sent.amount
    # Bob sees it too; a third customer does not.
    assert pay.payments.get(customer_of(bob["CNY"]), sent.id).id == sent.id
    with pytest.raises(NotFound):
        pay.payments.get(customer_of(wallets()["CNY"]), sent.id)
    with pytest.raises(NotFound) as err:
        pay.payments.find_payee(actor, phone="+8613900000000")
    assert err.value.field == "phone"
    with pytest.raises(NotFound) as err2:  # Bob has a USD wallet, but send to his account id
        pay.payments.send(actor, from_account_id=alice["CNY"].id, to_account_id="nope",
                          amount=Money.of("1", "CNY"), idempotency_key="x")  # fmt: skip
    assert err2.value.field == "to_account_id"
    assert currency_sums(engine)["CNY"] == 0


def test_a_request_link_is_paid_once_and_expires(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, clock: ManualClock
) -> None:
    alice = wallets("Alice", CNY="500")
    bob = wallets("Bob")
    req = pay.payments.request_money(customer_of(bob["CNY"]), to_account_id=bob["CNY"].id,
                                     amount=Money.of("42.00", "CNY"), note="tickets")  # fmt: skip
    # The id is the link's capability: 122 random bits, nothing of when it was made.
    assert uuid.UUID(req.id).version == 4
    actor = customer_of(alice["CNY"])
    assert pay.payments.get_request(actor, req.id).amount == Money.of("42.00", "CNY")
    paid = pay.payments.pay_request(actor, req.id, from_account_id=alice["CNY"].id,
                                    idempotency_key="r")  # fmt: skip
    assert paid.amount == Money.of("42.00", "CNY")
    with pytest.raises(Conflict, match="already paid"):
        pay.payments.pay_request(actor, req.id, from_account_id=alice["CNY"].id,
                                 idempotency_key="r2")  # fmt: skip
    late = pay.payments.request_money(customer_of(bob["CNY"]), to_account_id=bob["CNY"].id,
                                      amount=Money.of("1.00", "CNY"))  # fmt: skip
    clock.advance(timedelta(days=1, seconds=1))
    with pytest.raises(BusinessRuleViolation, match="expired") as err:
        pay.payments.pay_request(actor, late.id, from_account_id=alice["CNY"].id,
                                 idempotency_key="r3")  # fmt: skip
    assert err.value.field == "request_id"
    assert bank.balance(Principal.system("t"), bob["CNY"].id).balance == Money.of("42", "CNY")


def test_per_payment_and_daily_limits_count_other_currencies_in_cny(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, rates: ReferenceRates
) -> None:
    alice = wallets("Alice", CNY="300000", USD="20000")
    bob = wallets("Bob")
    actor = customer_of(alice["CNY"])
    with pytest.raises(LimitExceeded, match="limited to") as err:
        pay.payments.send(actor, from_account_id=alice["CNY"].id, to_account_id=bob["CNY"].id,
                          amount=Money.of("50000.01", "CNY"), idempotency_key="big")  # fmt: skip
    assert err.value.field == "amount"
    for i in range(2):
        pay.payments.send(actor, from_account_id=alice["CNY"].id, to_account_id=bob["CNY"].id,
                          amount=Money.of("45000", "CNY"), idempotency_key=f"d{i}")  # fmt: skip
    # 90,000 of the 100,000 daily P2P limit used: 2,000 USD is ~14,000 CNY at the ECB rate.
    with pytest.raises(LimitExceeded, match="daily p2p limit"):
        pay.payments.send(actor, from_account_id=alice["USD"].id, to_account_id=bob["USD"].id,
                          amount=Money.of("2000", "USD"), idempotency_key="usd")  # fmt: skip
    assert pay.limits.used_today(alice["CNY"].customer_id or "", "p2p") == Money.of("90000", "CNY")
    # A refused posting gives its reservation back.
    poor = wallets("Poor", CNY="1")
    with pytest.raises(Exception, match="available"):
        pay.payments.send(customer_of(poor["CNY"]), from_account_id=poor["CNY"].id,
                          to_account_id=bob["CNY"].id, amount=Money.of("10", "CNY"),
                          idempotency_key="nsf")  # fmt: skip
    assert pay.limits.used_today(poor["CNY"].customer_id or "", "p2p") == Money.zero("CNY")
    with pytest.raises(ValidationError):
        pay.payments.send(actor, from_account_id=alice["CNY"].id, to_account_id=bob["CNY"].id,
                          amount=Money.of("1", "CNY"), idempotency_key="")  # fmt: skip


def test_daily_limit_holds_under_16_concurrent_payers(
    engine: Engine, clock: ManualClock, bank: BankingService, rates: ReferenceRates,
    wallets: WalletFn, tmp_path: Path,
) -> None:  # fmt: skip
    section = PaymentsSettings(daily_limit={"p2p": 1000, "qr": 1000},
                               per_payment_limit={"p2p": 1000, "qr": 1000})  # fmt: skip
    settings = make_settings(tmp_path / "d", payments=section)
    pay = PaymentsService(engine, clock, settings, banking=bank, rates=rates)
    alice = wallets("Alice", CNY="10000")
    bob = wallets("Bob")
    actor = customer_of(alice["CNY"])

    def send(i: int) -> int:
        try:
            pay.payments.send(actor, from_account_id=alice["CNY"].id,
                              to_account_id=bob["CNY"].id, amount=Money.of("70", "CNY"),
                              idempotency_key=f"c{i}")  # fmt: skip
        except LimitExceeded:
            return 0
        return 1

    with ThreadPoolExecutor(16) as pool:
        done = sum(pool.map(send, range(32)))
    assert done == 14  # 14 x 70 = 980 <= 1,000 < 15 x 70
    received = bank.balance(Principal.system("t"), bob["CNY"].id).balance
    assert received == Money.of("980", "CNY")
    assert pay.limits.used_today(alice["CNY"].customer_id or "", "p2p") == received
