"""Quant domain events."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema


@register_schema("quant.backtest_completed", 1)
class BacktestCompletedV1(EventPayload):
    """A backtest run finished (succeeded or failed) and was stored."""

    run_id: str
    name: str
    status: str
    market: str
    strategy: str
    final_equity: str | None = None
    currency: str
