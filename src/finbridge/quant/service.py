"""The quant engine's face for interfaces: run backtests, list runs, fetch tear sheets.

Scopes: ``quant:run`` to run a backtest, ``quant:read`` to list and read runs. A principal sees
its own runs; one holding ``quant:admin`` (or ``*``) sees everyone's. A run that fails on bad
input is still stored (status ``failed`` with the error) so the console shows what went wrong,
and the error is raised to the caller.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.errors import FinbridgeError, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.core.settings import Settings
from finbridge.lake import Event, emit
from finbridge.quant import events as _events  # noqa: F401 - registers the event schema
from finbridge.quant.config import BacktestConfig, parse_config
from finbridge.quant.tables import QuantRunRow
from finbridge.store.engine import unit_of_work

if TYPE_CHECKING:
    import polars as pl

    from finbridge.quant.backtest.rules import MarketProfile
    from finbridge.quant.factors import FactorEngine
    from finbridge.quant.imports import MarketInfo, MarketStore


@dataclass(frozen=True)
class QuantRun:
    id: str
    owner_id: str
    name: str
    status: str
    summary: dict[str, Any]
    error: str | None
    currency: str
    created_at: datetime
    config: dict[str, Any]

    @classmethod
    def of(cls, row: QuantRunRow) -> QuantRun:
        return cls(
            row.id, row.owner_id, row.name, row.status, row.summary, row.error,
            row.currency, row.created_at, row.config,
        )  # fmt: skip


def _json_safe(summary: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN/inf; a metric that is undefined (no trades, flat returns) is null.
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in summary.items()
    }


class QuantService:
    """Backtests from validated configs, stored with their tear sheets; one per platform, so
    its factor cache is shared by every request."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        factors: FactorEngine | None = None,
        *,
        markets_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self._factors = factors
        self._lock = threading.Lock()
        self._markets_dir = markets_dir

    @classmethod
    def build(cls, engine: Engine, clock: Clock, settings: Settings) -> QuantService:
        """The platform's quant face; imported markets live under data_dir/quant/markets."""
        return cls(engine, clock, markets_dir=Path(settings.data_dir) / "quant" / "markets")

    def _markets(self) -> MarketStore:
        from finbridge.quant.imports import MarketStore

        if self._markets_dir is None:
            raise ValidationError("this quant service has no market store", field="market")
        return MarketStore(self._markets_dir)

    def import_market(
        self,
        actor: Principal,
        path: Path,
        *,
        market: str,
        calendar: str,
        profile: str | None = None,
        layout: str = "auto",
        max_missing: float = 0.01,
        instrument: str | None = None,
        profile_file: Path | None = None,
        encoding: str | None = None,
    ) -> MarketInfo:
        """Import a daily price file as market ``market`` (checked against ``calendar``).

        Reads a local file: for trusted local callers (the CLI), like ``data.data_dir``."""
        actor.require_scope("quant:run")
        if layout not in ("auto", "long", "wide"):
            raise ValidationError("layout must be auto, long or wide", field="layout")
        return self._markets().import_file(
            path, market=market, calendar=calendar, profile=profile,
            layout=layout, max_missing=max_missing, instrument=instrument,  # type: ignore[arg-type]
            profile_file=profile_file, encoding=encoding,
        )  # fmt: skip

    def profiles(self) -> list[MarketProfile]:
        """The shipped market profiles (public rules, no scope needed)."""
        from finbridge.quant.backtest.rules import PROFILES

        return list(PROFILES.values())

    def markets(self, actor: Principal) -> list[MarketInfo]:
        """The imported markets with what their import found."""
        actor.require_scope("quant:read")
        return self._markets().markets() if self._markets_dir is not None else []

    @property
    def factors(self) -> FactorEngine:
        """The factor engine, built on first use (it loads numba)."""
        if self._factors is None:
            with self._lock:
                if self._factors is None:
                    from finbridge.quant.factors import FactorEngine

                    # A few factor sets only: Alpha158 on the bundled slice is ~55 MB in memory.
                    self._factors = FactorEngine(max_entries=4)
        return self._factors

    def run(
        self,
        actor: Principal,
        config: BacktestConfig | dict[str, Any] | str,
        *,
        allow_data_dir: bool = False,
    ) -> QuantRun:
        """Run and store a backtest. ``data.data_dir`` reads server files, so only trusted
        local callers (the CLI) may pass ``allow_data_dir=True``; the API never does."""
        actor.require_scope("quant:run")
        cfg = config if isinstance(config, BacktestConfig) else parse_config(config)
        if cfg.data.data_dir is not None and not allow_data_dir:
            raise ValidationError(
                "data.data_dir is only accepted from the command line", field="data.data_dir"
            )
        imported = None
        unknown: ValidationError | None = None  # recorded as a failed run like any bad input
        if cfg.market not in ("cn", "us"):
            from finbridge.quant.runner import ImportedMarket

            store = self._markets()
            try:
                imported = ImportedMarket(store, store.info(cfg.market))
            except NotFound as exc:
                unknown = ValidationError(exc.detail, field="market")
        currency = imported.info.currency if imported else "CNY" if cfg.market == "cn" else "USD"
        row = QuantRunRow(
            id=new_id(), owner_id=actor.id, name=cfg.name, config=cfg.to_json(), summary={},
            currency=currency, created_at=self.clock.now(), error=None, tearsheet_html=None,
            final_equity_minor=None,
        )  # fmt: skip
        failure: FinbridgeError | None = None
        final_equity: str | None = None
        from finbridge.quant.runner import run_config  # loads the backtest engine and models

        try:
            if unknown is not None:
                raise unknown
            outcome = run_config(cfg, self.factors, imported=imported)
        except FinbridgeError as exc:
            failure = exc
            row.status, row.error = "failed", str(exc)
        except Exception as exc:
            # A fault of ours, not bad input: still recorded with its error, then raised.
            with unit_of_work(self.engine) as session:
                row.status, row.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
                session.add(row)
            raise
        else:
            equity = outcome.result.final_equity
            row.status = "succeeded"
            row.summary = _json_safe(outcome.summary)
            row.tearsheet_html = outcome.tearsheet_html
            row.final_equity_minor = equity.minor
            final_equity = str(equity.amount)
        with unit_of_work(self.engine) as session:
            session.add(row)
            emit(
                session,
                Event(
                    event_type="quant.backtest_completed",
                    occurred_at=row.created_at,
                    source="quant",
                    subject_id=row.id,
                    payload={
                        "run_id": row.id,
                        "name": row.name,
                        "status": row.status,
                        "market": cfg.market,
                        "strategy": cfg.strategy.name,
                        "final_equity": final_equity,
                        "currency": currency,
                    },
                ),
            )
        if failure is not None:
            raise failure
        return QuantRun.of(row)

    def compute_factors(
        self,
        *,
        market: str,
        instruments: list[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        expressions: dict[str, str] | None = None,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
    ) -> pl.DataFrame:
        """Factor expressions (default: the Alpha158 set) over daily bars of ``market``.

        Reads local files (the bundled slice or ``data_dir``): for trusted local callers.
        """
        from finbridge.quant.data import load_cn_bars, load_us_bars
        from finbridge.quant.factors import ALPHA158, FactorEngine

        if market not in {"cn", "us"}:
            raise ValidationError("market must be cn or us", field="market")
        loader = load_cn_bars if market == "cn" else load_us_bars
        bars = loader(instruments, start, end, data_dir=data_dir, on_bad="drop")
        engine = FactorEngine(cache_dir=cache_dir) if cache_dir is not None else self.factors
        return engine.compute(bars, expressions or ALPHA158)

    def _visible(self, actor: Principal, row: QuantRunRow | None, run_id: str) -> QuantRunRow:
        if row is None or (row.owner_id != actor.id and not actor.has_scope("quant:admin")):
            raise NotFound(f"no quant run {run_id}", field="run_id")
        return row

    def list_runs(self, actor: Principal, *, limit: int = 50) -> list[QuantRun]:
        actor.require_scope("quant:read")
        stmt = select(QuantRunRow).order_by(QuantRunRow.created_at.desc()).limit(limit)
        if not actor.has_scope("quant:admin"):
            stmt = stmt.where(QuantRunRow.owner_id == actor.id)
        with unit_of_work(self.engine, write=False) as session:
            return [QuantRun.of(r) for r in session.scalars(stmt)]

    def get(self, actor: Principal, run_id: str) -> QuantRun:
        actor.require_scope("quant:read")
        with unit_of_work(self.engine, write=False) as session:
            return QuantRun.of(self._visible(actor, session.get(QuantRunRow, run_id), run_id))

    def tearsheet(self, actor: Principal, run_id: str) -> str:
        actor.require_scope("quant:read")
        with unit_of_work(self.engine, write=False) as session:
            row = self._visible(actor, session.get(QuantRunRow, run_id), run_id)
            if row.tearsheet_html is None:
                raise NotFound(f"run {run_id} has no tear sheet ({row.status})", field="run_id")
            return row.tearsheet_html
