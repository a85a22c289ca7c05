"""Partner card payments in and out of the event lake, for the decision engine's offline paths.

In: a bank's or acquirer's own transaction file, in any layout a :class:`ColumnMapping` names,
becomes ``card.transaction`` events that the lake's ingestion validates and stores (the raw
file alone would be rejected row by row: it has no event envelope).

Out: the ``card.transaction`` events of a window, read from the lake as columns (no row limit),
become the handbook layout the replay scores. Payments in several currencies are never summed
as if they were one: the caller names the currency the model reads and a reference-rate source,
or the replay refuses to mix them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finbridge.core.errors import ValidationError
from finbridge.core.money import Money
from finbridge.risk.mapping import ColumnMapping

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from finbridge.risk.backtest import ReplayResult
    from finbridge.risk.rules import CompiledRuleSet

CARD_EVENT = "card.transaction"
# The payload fields the replay reads, in the order the lake returns them.
CARD_FIELDS: tuple[str, ...] = (
    "transaction_id", "customer_id", "terminal_id", "currency", "amount", "kind", "fraud_label",
)  # fmt: skip
# Units of ``quote`` for one unit of ``base`` on a day (payments' ECB reference rates).
RateFn = Callable[[str, str, date], Decimal]


def card_events_from_file(
    path: Path, mapping: ColumnMapping, *, currency: str
) -> list[dict[str, Any]]:
    """Each row of a transaction file as a ``card.transaction`` event envelope.

    Times without a zone are taken as UTC (stated in ``risk schema``); an amount finer than
    ``currency``'s minor unit is an error naming the row, never rounded away; the file's own
    transaction id is the event's row id, so ingesting the file twice stores each event once.
    """
    from finbridge.risk.transactions import read_transactions, to_handbook

    Money.of("0", currency, field="currency")  # an unknown currency is one clear error
    raw = read_transactions(path)
    frame = to_handbook(raw, mapping, need_label=False)
    labelled = mapping.column("label", raw.columns) is not None
    events: list[dict[str, Any]] = []
    for row in frame.iter_rows(named=True):
        try:
            amount = Money.of(Decimal(repr(row["TX_AMOUNT"])), currency, field="amount")
        except ValidationError as exc:
            raise ValidationError(
                f"transaction {row['SOURCE_ID']!r}: {exc.detail}", field="amount"
            ) from None
        customer = _ident(row["CUSTOMER_ID"])
        payload: dict[str, Any] = {
            "transaction_id": _ident(row["SOURCE_ID"]),
            "customer_id": customer,
            "terminal_id": _ident(row["TERMINAL_ID"]),
            "currency": currency,
            "amount": str(amount.amount),
        }
        if labelled:
            payload["fraud_label"] = bool(row["TX_FRAUD"])
        when: datetime = row["TX_DATETIME"]
        events.append(
            {
                "id": payload["transaction_id"],
                "event_type": CARD_EVENT,
                "schema_version": 1,
                "occurred_at": when.replace(tzinfo=UTC).isoformat(),
                "subject_id": customer,
                "payload": payload,
            }
        )
    return events


def _ident(value: object) -> str:
    # The lake's identifiers allow word characters and . : @ / -; a file's ids may not.
    text = str(value).strip()
    cleaned = "".join(c if c.isalnum() or c in "_.:@/-" else "_" for c in text)[:64]
    if not cleaned:
        raise ValidationError(f"an empty identifier in the file: {value!r}", field="file")
    return cleaned


def _text(value: object) -> str | None:
    # As the lake's json_extract_string gives it: JSON's true/false, not Python's True/False.
    if value is None:
        return None
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass(frozen=True, slots=True)
class CardReplay:
    """A replay of ingested card payments and what it did to get there."""

    result: ReplayResult
    refunds: int  # refunds are not payments: left out
    currency: str  # the one currency the model read
    converted: Mapping[str, int]  # payments converted into ``currency``, by source currency


def replay_card_table(
    table: pa.Table,
    rules: CompiledRuleSet,
    *,
    currency: str | None = None,
    rate: RateFn | None = None,
) -> CardReplay:
    """Ingested card payments (``event_id``, ``occurred_at`` and :data:`CARD_FIELDS` as text,
    as the lake's ``payload_table`` returns them) through features, the model and ``rules``.

    With several currencies, ``currency`` and ``rate`` say what to convert into; amounts are
    converted at the reference rate of the payment's UTC date. The converted amounts are model
    inputs (floats, like every feature), not money that moves.
    """
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return _replay(frame, rules, currency=currency, rate=rate)


def replay_card_events(
    events: Iterable[Mapping[str, Any]],
    rules: CompiledRuleSet,
    *,
    currency: str | None = None,
    rate: RateFn | None = None,
) -> CardReplay:
    """:func:`replay_card_table` over event dicts (``occurred_at`` and ``payload``)."""
    import polars as pl

    rows = []
    for e in events:
        if e.get("event_type", CARD_EVENT) != CARD_EVENT:
            continue
        at = e["occurred_at"]
        p = e["payload"]
        rows.append(
            {
                "occurred_at": datetime.fromisoformat(at) if isinstance(at, str) else at,
                **{name: _text(p.get(name)) for name in CARD_FIELDS},
            }
        )
    schema: dict[str, pl.DataType] = {"occurred_at": pl.Datetime("us", "UTC")}
    schema.update((name, pl.String()) for name in CARD_FIELDS)
    frame = pl.DataFrame(rows, schema=schema)
    return _replay(frame, rules, currency=currency, rate=rate)


def _replay(
    frame: pl.DataFrame, rules: CompiledRuleSet, *, currency: str | None, rate: RateFn | None
) -> CardReplay:
    import polars as pl

    from finbridge.risk.backtest import replay_handbook
    from finbridge.risk.models import load_default_model
    from finbridge.risk.transactions import to_handbook

    refunds = frame.filter(pl.col("kind") == "refund").height
    payments = frame.filter(pl.col("kind").fill_null("purchase") != "refund")
    if payments.is_empty():
        raise ValidationError(f"no {CARD_EVENT} payments in the lake to replay", field="events")
    seen = sorted(payments["currency"].unique().to_list())
    target = currency or (seen[0] if len(seen) == 1 else None)
    if target is None:
        raise ValidationError(
            f"the payments are in {', '.join(seen)}: name the currency the model reads"
            " (--currency) to convert them at the reference rates",
            field="currency",
        )
    Money.of("0", target, field="currency")
    payments = payments.with_columns(
        pl.col("occurred_at").dt.convert_time_zone("UTC").dt.replace_time_zone(None),
        pl.col("amount").cast(pl.Float64),
    )
    converted: dict[str, int] = {}
    others = [c for c in seen if c != target]
    if others:
        if rate is None:
            raise ValidationError(
                f"payments in {', '.join(others)} need a reference rate into {target}",
                field="currency",
            )
        pairs = (
            payments.filter(pl.col("currency") != target)
            .select("currency", pl.col("occurred_at").dt.date().alias("day"))
            .unique()
        )
        rates = pl.DataFrame(
            {
                "currency": pairs["currency"],
                "day": pairs["day"],
                "fx": [float(rate(c, target, d)) for c, d in pairs.iter_rows()],
            },
            schema={"currency": pl.String, "day": pl.Date, "fx": pl.Float64},
        )
        payments = (
            payments.with_columns(pl.col("occurred_at").dt.date().alias("day"))
            .join(rates, on=["currency", "day"], how="left")
            .with_columns(
                pl.when(pl.col("currency") == target)
                .then(pl.col("amount"))
                .otherwise(pl.col("amount") * pl.col("fx"))
                .alias("amount")
            )
        )
        converted = {c: payments.filter(pl.col("currency") == c).height for c in others}
    handbook = pl.DataFrame(
        {
            "TRANSACTION_ID": payments["transaction_id"],
            "TX_DATETIME": payments["occurred_at"],
            "CUSTOMER_ID": payments["customer_id"],
            "TERMINAL_ID": payments["terminal_id"],
            "TX_AMOUNT": payments["amount"],
            "TX_FRAUD": (payments["fraud_label"] == "true").fill_null(False).cast(pl.Int8),
        }
    )
    result = replay_handbook(to_handbook(handbook, ColumnMapping()), rules, load_default_model())
    return CardReplay(result, refunds, target, converted)
