"""Console: quant backtest runs with their tear sheets, and a one-click demo run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.quant import QuantRun
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/quant", include_in_schema=False)
NAV = ("Quant", "/console/quant")
NAV_ORDER = 70

# Runs on the bundled slice in well under a second.
DEMO_CONFIG: dict[str, Any] = {
    "name": "demo: MA 10/30 crossover, US large caps",
    "market": "us",
    "data": {"instruments": ["AAPL", "MSFT", "JPM", "XOM", "KO"], "start": "2014-01-01",
             "end": "2018-02-07"},
    "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 30}},
    "costs": {"commission_buy": 0.0005, "commission_sell": 0.0005, "min_commission": 1},
}  # fmt: skip


def _rows(runs: list[QuantRun]) -> list[dict[str, Any]]:
    def pct(run: QuantRun, key: str) -> str:
        v = run.summary.get(key)
        return f"{v:.2%}" if isinstance(v, float) else "-"

    return [
        {
            "id": r.id,
            "name": r.name,
            "status": r.status,
            "error": r.error,
            "created_at": r.created_at,
            "annual_return": pct(r, "annual_return"),
            "max_drawdown": pct(r, "max_drawdown"),
            "sharpe": f"{r.summary['sharpe']:.2f}"
            if isinstance(r.summary.get("sharpe"), float)
            else "-",
            "strategy": r.config.get("strategy", {}).get("name", ""),
            "market": r.config.get("market", ""),
            "warnings": list(r.summary.get("warnings") or []),
        }
        for r in runs
    ]


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    runs = _rows(platform.quant.list_runs(actor))
    markets = platform.quant.markets(actor)
    return render(request, "quant/index.html", {"runs": runs, "markets": markets})


@router.post("/demo", response_class=HTMLResponse)
def demo(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    service = platform.quant
    service.run(actor, DEMO_CONFIG)
    return render(request, "quant/_runs.html", {"runs": _rows(service.list_runs(actor))})


@router.get("/runs/{run_id}/tearsheet", response_class=HTMLResponse)
def tearsheet(run_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    page = platform.quant.tearsheet(actor, run_id)
    return HTMLResponse(
        page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    )
