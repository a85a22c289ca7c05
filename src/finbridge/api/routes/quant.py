"""``/v1/quant``: run backtests from a validated config, list runs, fetch tear sheets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.quant import BacktestConfig, QuantRun

router = APIRouter(prefix="/quant", tags=["quant"])


class QuantRunPublic(BaseModel):
    id: str
    name: str
    status: str
    summary: dict[str, Any]
    error: str | None
    currency: str
    created_at: datetime
    config: dict[str, Any]
    tearsheet_url: str | None

    @classmethod
    def of(cls, run: QuantRun) -> QuantRunPublic:
        return cls(
            id=run.id,
            name=run.name,
            status=run.status,
            summary=run.summary,
            error=run.error,
            currency=run.currency,
            created_at=run.created_at,
            config=run.config,
            tearsheet_url=f"/v1/quant/backtests/{run.id}/tearsheet"
            if run.status == "succeeded"
            else None,
        )


@router.post("/backtests", response_model=QuantRunPublic, status_code=201, summary="Run a backtest")
def run_backtest(
    platform: PlatformDep, principal: PrincipalDep, config: BacktestConfig
) -> QuantRunPublic:
    return QuantRunPublic.of(platform.quant.run(principal, config))


@router.get(
    "/backtests", response_model=list[QuantRunPublic], summary="Backtest runs, newest first"
)
def list_backtests(
    platform: PlatformDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[QuantRunPublic]:
    return [QuantRunPublic.of(r) for r in platform.quant.list_runs(principal, limit=limit)]


@router.get("/backtests/{run_id}", response_model=QuantRunPublic, summary="One backtest run")
def get_backtest(platform: PlatformDep, principal: PrincipalDep, run_id: str) -> QuantRunPublic:
    return QuantRunPublic.of(platform.quant.get(principal, run_id))


@router.get(
    "/backtests/{run_id}/tearsheet",
    response_class=HTMLResponse,
    summary="The run's tear sheet (self-contained HTML, inline SVG charts)",
)
def get_tearsheet(platform: PlatformDep, principal: PrincipalDep, run_id: str) -> HTMLResponse:
    page = platform.quant.tearsheet(principal, run_id)
    # The page has no scripts; forbid any anyway.
    return HTMLResponse(
        page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    )


class MarketPublic(BaseModel):
    """An imported market and what its calendar check found."""

    name: str
    calendar: str
    profile: str
    currency: str
    close_only: bool
    source: str
    layout: str
    rows: int
    instruments: int
    first: str
    last: str
    sessions: int
    missing_sessions: list[str]
    off_calendar_days: list[str]
    instrument_gaps: int


@router.get(
    "/markets",
    response_model=list[MarketPublic],
    summary="Imported markets (`finbridge quant data import`) with their calendar check",
)
def list_markets(platform: PlatformDep, principal: PrincipalDep) -> list[MarketPublic]:
    return [MarketPublic(**vars(m)) for m in platform.quant.markets(principal)]


class TaxPublic(BaseModel):
    side: str
    rate: float
    since: str


class BoardLimitPublic(BaseModel):
    prefixes: list[str]
    limit: float
    since: str | None


class PriceLimitsPublic(BaseModel):
    default: float
    special_treatment: float | None
    boards: list[BoardLimitPublic]


class ProfilePublic(BaseModel):
    name: str
    currency: str
    calendar: str | None
    lot_size: int
    t_plus: int
    commission_buy: float
    commission_sell: float
    min_commission: float
    price_limits: PriceLimitsPublic | None  # null: prices move freely
    taxes: list[TaxPublic]


def _profile(p: Any) -> ProfilePublic:
    taxes = [TaxPublic(side="sell", rate=r, since=d.isoformat()) for d, r in p.stamp_duty]
    taxes += [TaxPublic(side="buy", rate=r, since=d.isoformat()) for d, r in p.buy_tax]
    rule = p.price_limits
    limits = None if rule is None else PriceLimitsPublic(
        default=rule.default, special_treatment=rule.special_treatment,
        boards=[BoardLimitPublic(prefixes=list(b.prefixes), limit=b.limit,
                                 since=b.since.isoformat() if b.since else None)
                for b in rule.boards],
    )  # fmt: skip
    return ProfilePublic(
        name=p.name, currency=p.currency, calendar=p.calendar, lot_size=p.lot_size,
        t_plus=p.t_plus, commission_buy=p.commission_buy, commission_sell=p.commission_sell,
        min_commission=p.min_commission, price_limits=limits, taxes=taxes,
    )  # fmt: skip


@router.get("/profiles", response_model=list[ProfilePublic], summary="Shipped market profiles")
def list_profiles(platform: PlatformDep, principal: PrincipalDep) -> list[ProfilePublic]:
    principal.require_scope("quant:read")
    return [_profile(p) for p in platform.quant.profiles()]
