"""FX: quotes from the ECB reference rate less the spread, rounding per minor unit, one
balanced journal entry through the FX position accounts, expiry and reuse refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from tests.payments.conftest import WalletFn, currency_sums, customer_of

from finbridge.banking import BankingService
from finbridge.core import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    InsufficientFunds,
    ManualClock,
    Money,
    NotFound,
    Principal,
    ValidationError,
)
from finbridge.payments import PaymentsService, ReferenceRates, bought, needed


def test_reference_rates_are_the_published_ecb_figures(rates: ReferenceRates) -> None:
    # ECB, 3 May 2024 (eurofxref-hist.csv): 1 EUR = 1.0744 USD = 7.7798 CNY = 0.85573 GBP
    assert rates.euro_rate("USD", date(2024, 5, 3)) == (Decimal("1.0744"), date(2024, 5, 3))
    # A Saturday carries Friday's rate.
    assert rates.euro_rate("USD", date(2024, 5, 4))[1] == date(2024, 5, 3)
    cross = rates.rate("USD", "CNY", date(2024, 5, 3))
    assert cross.rate == (Decimal("7.7798") / Decimal("1.0744")).quantize(Decimal("1e-9"))
    assert rates.euro_rate("GBP", date(2024, 5, 3))[0] == Decimal("0.85573")
    with pytest.raises(ValidationError, match="no reference rate for KWD") as err:
        rates.euro_rate("KWD", date(2024, 5, 3), field="buy_currency")
    assert err.value.field == "buy_currency"


@pytest.mark.parametrize(
    ("sold", "rate", "code", "expected"),
    [
        (Money.of("100.00", "CNY"), Decimal("20.98765"), "JPY", Money.of("2098", "JPY")),
        (Money.of("100.00", "USD"), Decimal("0.30712345"), "KWD", Money.of("30.712", "KWD")),
        (Money.of("1", "JPY"), Decimal("0.04765"), "CNY", Money.of("0.04", "CNY")),
        (Money.of("0.01", "USD"), Decimal("0.5"), "CNY", Money.of("0.00", "CNY")),
    ],
)
def test_bought_amounts_round_down_to_the_minor_unit(
    sold: Money, rate: Decimal, code: str, expected: Money
) -> None:
    assert bought(sold, rate, code) == expected


def test_amounts_needed_round_up_to_the_minor_unit() -> None:
    assert needed(Money.of("1000", "JPY"), Decimal("20.98765"), "CNY") == Money.of("47.65", "CNY")
    assert needed(Money.of("10.000", "KWD"), Decimal("0.3071"), "USD") == Money.of("32.57", "USD")
    assert needed(Money.of("10.00", "CNY"), Decimal("0.0476"), "JPY") == Money.of("211", "JPY")


def test_a_quote_prices_from_the_reference_less_spread_and_fee(
    pay: PaymentsService, wallets: WalletFn, rates: ReferenceRates, clock: ManualClock
) -> None:
    me = wallets(CNY="10000")
    actor = customer_of(me["CNY"])
    q = pay.fx.quote(actor, me["CNY"].customer_id or "", sell_currency="CNY", buy_currency="USD",
                     sell_amount=Money.of("7000.00", "CNY"))  # fmt: skip
    ref = rates.rate("CNY", "USD", pay.fx.today())
    assert q.reference_rate == ref.rate
    assert q.spread_bps == 40  # the configured CNY/USD standard spread
    assert abs(q.rate - ref.rate * Decimal("0.996")) < Decimal("1e-9")
    assert q.rate < q.reference_rate
    assert q.fee == Money.of("7.00", "CNY")  # 10 bps of 7,000
    assert q.buy == bought(q.sell - q.fee, q.rate, "USD")
    assert q.expires_at == clock.now() + timedelta(seconds=30)
    # Quoting by what to receive: the customer pays enough to buy exactly that.
    q2 = pay.fx.quote(actor, me["CNY"].customer_id or "", sell_currency="CNY",
                      buy_currency="JPY", buy_amount=Money.of("100000", "JPY"))  # fmt: skip
    assert q2.buy == Money.of("100000", "JPY")
    assert bought(q2.sell - q2.fee, q2.rate, "JPY") >= q2.buy
    assert q2.buy.amount == q2.buy.amount.to_integral_value()


def test_premier_customers_get_the_narrower_spread(
    pay: PaymentsService, wallets: WalletFn, admin: Principal
) -> None:
    me = wallets(EUR="100")
    cid = me["EUR"].customer_id or ""
    actor = customer_of(me["EUR"])
    standard = pay.fx.quote(actor, cid, sell_currency="EUR", buy_currency="GBP",
                            sell_amount=Money.of("100", "EUR"))  # fmt: skip
    pay.fx.set_tier(admin, cid, "premier")
    premier = pay.fx.quote(actor, cid, sell_currency="EUR", buy_currency="GBP",
                           sell_amount=Money.of("100", "EUR"))  # fmt: skip
    assert (standard.spread_bps, premier.spread_bps) == (50, 20)
    assert premier.buy > standard.buy


def test_executing_a_quote_is_one_entry_through_the_fx_position(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, system: Principal,
    engine: Engine, teller: Principal,
) -> None:  # fmt: skip
    me = wallets(CNY="10000")
    actor = customer_of(me["CNY"])
    q = pay.fx.quote(actor, me["CNY"].customer_id or "", sell_currency="CNY", buy_currency="USD",
                     sell_amount=Money.of("7000.00", "CNY"))  # fmt: skip
    done = pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["USD"].id)
    assert done.quote.status == "executed"
    assert bank.balance(system, me["CNY"].id).balance == Money.of("3000.00", "CNY")
    assert bank.balance(system, me["USD"].id).balance == q.buy
    positions = {p.currency: p for p in pay.fx.positions(teller)}
    assert positions["CNY"].position == q.sell - q.fee
    assert positions["USD"].position == -q.buy
    assert positions["JPY"].position == Money.zero("JPY")
    assert currency_sums(engine)["CNY"] == 0 and currency_sums(engine)["USD"] == 0
    # A used quote is refused, and nothing moves again.
    with pytest.raises(Conflict, match="already used") as err:
        pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["USD"].id)
    assert err.value.field == "quote_id"
    assert bank.balance(system, me["USD"].id).balance == q.buy


def test_an_expired_quote_is_refused(
    pay: PaymentsService, wallets: WalletFn, clock: ManualClock, bank: BankingService,
    system: Principal,
) -> None:  # fmt: skip
    me = wallets(CNY="100")
    actor = customer_of(me["CNY"])
    q = pay.fx.quote(actor, me["CNY"].customer_id or "", sell_currency="CNY", buy_currency="HKD",
                     sell_amount=Money.of("50", "CNY"))  # fmt: skip
    clock.advance(timedelta(seconds=31))
    with pytest.raises(BusinessRuleViolation, match="expired") as err:
        pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["HKD"].id)
    assert err.value.field == "quote_id"
    assert bank.balance(system, me["HKD"].id).balance == Money.zero("HKD")


def test_a_failed_execution_gives_the_quote_back(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, system: Principal
) -> None:
    me = wallets(CNY="10")
    actor = customer_of(me["CNY"])
    q = pay.fx.quote(actor, me["CNY"].customer_id or "", sell_currency="CNY", buy_currency="USD",
                     sell_amount=Money.of("100", "CNY"))  # fmt: skip
    with pytest.raises(InsufficientFunds):
        pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["USD"].id)
    bank.deposit(system, me["CNY"].id, Money.of("100", "CNY"), idempotency_key="topup")
    pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["USD"].id)
    assert bank.balance(system, me["USD"].id).balance == q.buy


def test_bad_quote_requests_name_the_field(pay: PaymentsService, wallets: WalletFn) -> None:
    me = wallets(CNY="100")
    other = wallets(CNY="100")
    actor = customer_of(me["CNY"])
    cid = me["CNY"].customer_id or ""
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"sell_currency": "CNY", "buy_currency": "CNY", "sell_amount": Money.of("1", "CNY")},
         ValidationError, "buy_currency"),
        ({"sell_currency": "CNY", "buy_currency": "KWD", "sell_amount": Money.of("1", "CNY")},
         ValidationError, "buy_currency"),
        ({"sell_currency": "CNY", "buy_currency": "USD", "sell_amount": Money.of("1", "USD")},
         CurrencyMismatch, "sell_amount"),
        ({"sell_currency": "CNY", "buy_currency": "USD"}, ValidationError, "sell_amount"),
        ({"sell_currency": "CNY", "buy_currency": "USD", "sell_amount": Money.of("0.01", "CNY")},
         ValidationError, "sell_amount"),
        ({"sell_currency": "XXX", "buy_currency": "USD", "sell_amount": Money.of("1", "CNY")},
         ValidationError, "sell_currency"),
    ]  # fmt: skip
    for kwargs, error, field in cases:
        with pytest.raises(error) as err:
            pay.fx.quote(actor, cid, **kwargs)  # type: ignore[arg-type]
        assert err.value.field == field, kwargs  # type: ignore[attr-defined]
    # Someone else's customer id, quote and accounts do not exist for this customer.
    with pytest.raises(NotFound):
        pay.fx.quote(actor, other["CNY"].customer_id or "", sell_currency="CNY",
                     buy_currency="USD", sell_amount=Money.of("1", "CNY"))  # fmt: skip
    q = pay.fx.quote(actor, cid, sell_currency="CNY", buy_currency="USD",
                     sell_amount=Money.of("10", "CNY"))  # fmt: skip
    with pytest.raises(NotFound):
        pay.fx.get_quote(customer_of(other["CNY"]), q.id)
    with pytest.raises(NotFound) as nf:
        pay.fx.execute(actor, q.id, from_account_id=other["CNY"].id, to_account_id=me["USD"].id)
    assert nf.value.field == "from_account_id"
    with pytest.raises(CurrencyMismatch) as cm:  # the quote's pair against the wrong wallet
        pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["EUR"].id)
    assert cm.value.field == "to_account_id"


def test_racing_executions_of_one_quote_convert_once(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, system: Principal,
    engine: Engine,
) -> None:  # fmt: skip
    me = wallets(CNY="1000")
    actor = customer_of(me["CNY"])
    q = pay.fx.quote(actor, me["CNY"].customer_id or "", sell_currency="CNY", buy_currency="EUR",
                     sell_amount=Money.of("100", "CNY"))  # fmt: skip

    def run(_: int) -> str:
        try:
            pay.fx.execute(actor, q.id, from_account_id=me["CNY"].id, to_account_id=me["EUR"].id)
        except Conflict:
            return "refused"
        return "done"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(run, range(8)))
    assert outcomes.count("done") == 1
    assert bank.balance(system, me["EUR"].id).balance == q.buy
    assert bank.balance(system, me["CNY"].id).balance == Money.of("900", "CNY")
    assert all(v == 0 for v in currency_sums(engine).values())
