"""Load the shipped real-data slices into the platform (``finbridge data load`` and ``demo``).

- Customers: the 30,000 UCI Taiwan credit-card clients, one personal customer each with a TWD
  current account. Opening balance (deterministic, NT$, whole dollars): the client's credit
  limit ``LIMIT_BAL`` plus the six monthly repayments ``PAY_AMT1..6`` it made, i.e. money the
  client demonstrably had access to. One balanced entry from the bank's funding account each.
- Card payments: a slice of the Fraud Detection Handbook's simulated card transactions
  (cardholders 0..999, 21 days). Cardholder ``k`` is Taiwan client ``ID = k + 1``. The
  simulator's unitless amounts are read as NT$. The 21 days are replayed so they end yesterday
  (business time zone), simulator times read as Asia/Taipei local time; accounts are opened the
  hour before the first replayed payment, so every ledger balance is consistent in time.
- Events: everything the ledger emitted goes through the outbox to the Parquet lake.

Idempotent: customers are keyed by ``external_ref`` and payments by idempotency key, so a
second run adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

import finbridge
from finbridge.banking import (
    AccountKind,
    BankingService,
    CardTransaction,
    CustomerKind,
    NewAccountSpec,
    NewCustomerSpec,
)
from finbridge.core.clock import ManualClock, business_date
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lake import EventLake, OutboxRelay
from finbridge.platform import Platform

DEMO_DIR = Path(finbridge.__file__).parent / "datasets" / "demo"
CLIENTS_FILE = DEMO_DIR / "uci_taiwan_clients.parquet"
CARDS_FILE = DEMO_DIR / "fdh_card_transactions_slice.parquet"
CURRENCY = "TWD"
SIM_TZ = ZoneInfo("Asia/Taipei")
SIM_LAST_DAY = date(2018, 4, 21)
REF_PREFIX = "uci-taiwan-"
KEY_PREFIX = "demo-fdh-"
_PAY = [f"PAY_AMT{i}" for i in range(1, 7)]

# (stage, done, total): a CLI draws progress bars from it, tests ignore it.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class LoadResult:
    customers_opened: int  # opened now or already there (the run is idempotent)
    card_posted: int
    card_declined: int
    card_duplicates: int
    card_skipped_zero: int  # the simulator has a few zero-amount rows; nothing to post
    events_published: int  # 0 when the relay was left to the server
    seconds: float


def _noop(stage: str, done: int, total: int) -> None:
    """Progress sink for callers that do not draw anything."""


def opening_balance(limit_bal: int, payments: list[int]) -> Money:
    """Whole NT$ from integer columns: build from minor units (cents), no parsing needed."""
    return Money.from_minor((int(limit_bal) + sum(int(p) for p in payments)) * 100, CURRENCY)


def replay_shift(now: datetime, business_timezone: str) -> timedelta:
    """How far to move the simulator's timestamps so its last day becomes yesterday."""
    yesterday = business_date(now, business_timezone) - timedelta(days=1)
    return timedelta(days=(yesterday - SIM_LAST_DAY).days)


def load_demo_data(
    platform: Platform,
    *,
    limit: int | None = None,
    progress: Progress = _noop,
    chunk: int = 5000,
    relay: bool = True,
) -> LoadResult:
    """Seed customers, accounts, opening balances and replayed card payments; feed the lake.

    With ``relay=False`` the events stay in the outbox for a running server's relay to publish
    (the demo does this so it can start serving sooner).
    """
    started = time.perf_counter()
    actor = Principal.system("demo-loader")
    tz = platform.settings.business_timezone
    shift = replay_shift(platform.clock.now(), tz)

    cards = pl.read_parquet(CARDS_FILE).filter(pl.col("TX_AMOUNT") > 0)
    skipped_zero = pl.read_parquet(CARDS_FILE, columns=["TX_AMOUNT"]).height - cards.height
    first_local = cards["TX_DATETIME"].min()
    assert isinstance(first_local, datetime)
    opened_at = (first_local + shift).replace(tzinfo=SIM_TZ).astimezone(UTC) - timedelta(hours=1)
    # Accounts open just before the first replayed payment: seeding runs on a clock set there.
    seeding = BankingService(platform.engine, ManualClock(opened_at), business_timezone=tz)

    clients = pl.read_parquet(CLIENTS_FILE, columns=["ID", "LIMIT_BAL", *_PAY]).sort("ID")
    if limit is not None:
        clients = clients.head(limit)
    specs = [
        NewCustomerSpec(
            kind=CustomerKind.PERSONAL,
            display_name=f"Taiwan client {row[0]}",
            accounts=(NewAccountSpec(AccountKind.CURRENT, opening_balance(row[1], list(row[2:]))),),
            external_ref=f"{REF_PREFIX}{row[0]}",
        )
        for row in clients.iter_rows()
    ]
    account_of: dict[int, str] = {}
    for start in range(0, len(specs), chunk):
        progress("customers", start, len(specs))
        for opened in seeding.open_customers_bulk(actor, specs[start : start + chunk]):
            assert opened.external_ref is not None
            account_of[int(opened.external_ref.removeprefix(REF_PREFIX))] = opened.account_ids[0]
    progress("customers", len(specs), len(specs))

    items = [
        CardTransaction(
            account_id=account_of[cardholder + 1],
            amount=Money.of(Decimal(f"{amount:.2f}"), CURRENCY),
            idempotency_key=f"{KEY_PREFIX}{tx_id}",
            occurred_at=(at + shift).replace(tzinfo=SIM_TZ).astimezone(UTC),
            merchant=f"terminal {terminal}",
            metadata={"terminal_id": str(terminal), "source_transaction_id": str(tx_id)},
        )
        for tx_id, at, cardholder, terminal, amount in cards.select(
            "TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT"
        ).iter_rows()
        if cardholder + 1 in account_of
    ]
    posted = declined = duplicates = 0
    for start in range(0, len(items), chunk):
        progress("card payments", start, len(items))
        result = seeding.post_card_transactions(actor, items[start : start + chunk])
        posted += result.posted
        declined += result.declined
        duplicates += result.duplicates
    progress("card payments", len(items), len(items))

    published = relay_all(platform, progress) if relay else 0
    return LoadResult(
        customers_opened=len(account_of),
        card_posted=posted,
        card_declined=declined,
        card_duplicates=duplicates,
        card_skipped_zero=skipped_zero,
        events_published=published,
        seconds=time.perf_counter() - started,
    )


def relay_all(platform: Platform, progress: Progress = _noop) -> int:
    """Publish every pending outbox event to the Parquet lake."""
    relay = OutboxRelay(
        platform.engine, EventLake(platform.lake_dir), clock=platform.clock, batch_size=20_000
    )
    total = relay.pending()
    done = 0
    while True:
        progress("events to lake", done, total)
        n = relay.run_once()
        if n == 0:
            break
        done += n
    progress("events to lake", total, total)
    return done


def is_seeded(platform: Platform) -> bool:
    banking = BankingService(platform.engine, platform.clock)
    return bool(banking.list_customers(Principal.system("demo"), limit=1).items)
