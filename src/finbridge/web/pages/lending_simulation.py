"""Console: the credit-line portfolio simulation, a panel on the lending dashboard (HTMX), and
the same charts as a self-contained HTML report (``finbridge lending simulate --out``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import NotFound
from finbridge.lending import SimulationParams, SimulationResult
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render, templates

router = APIRouter(prefix="/console/lending/simulation", include_in_schema=False)
# web/mount.py imports this page, so the vendored folder is named here, not imported from it.
ECHARTS = Path(__file__).parents[1] / "static" / "vendor" / "echarts.min.js"


def _pct(x: float) -> float:
    return round(100 * x, 2)


def _axis(result: SimulationResult) -> dict[str, Any]:
    return {"type": "category", "data": [m.month for m in result.months]}


def _vintage_chart(result: SimulationResult, curve: str, longest: int) -> dict[str, Any]:
    # One line per origination cohort over months on book (a younger cohort's line is shorter).
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {},
        "xAxis": {"type": "category", "name": "months on book",
                  "data": list(range(1, longest + 1))},
        "yAxis": {"type": "value", "name": "% of cohort"},
        "series": [
            {"name": f"opened {v.opened}", "type": "line",
             "data": [_pct(x) for x in getattr(v, curve)]}
            for v in result.vintages
        ],
    }  # fmt: skip


def simulation_charts(result: SimulationResult) -> dict[str, dict[str, Any]]:
    """ECharts options (plain JSON: decimal strings, numbers) for every chart of a run."""
    money = result.money
    months = result.months
    flows = [
        ("interest", [str(money(m.interest_minor).amount) for m in months]),
        ("fees", [str(money(m.fees_minor).amount) for m in months]),
        ("charge-offs", [str(money(m.charge_offs_minor).amount) for m in months]),
    ]
    longest = max((len(v.charged_off) for v in result.vintages), default=0)
    return {
        "utilisation": {
            "tooltip": {"trigger": "axis"},
            "xAxis": _axis(result),
            "yAxis": [{"type": "value", "name": "% of limit"}, {"type": "value", "name": "lines"}],
            "series": [
                {"name": "utilisation %", "type": "line",
                 "data": [_pct(m.utilisation) for m in months]},
                {"name": "open lines", "type": "bar", "yAxisIndex": 1,
                 "data": [m.open_lines for m in months]},
            ],
        },
        "buckets": {
            "tooltip": {"trigger": "axis"},
            "legend": {},
            "xAxis": _axis(result),
            "yAxis": {"type": "value", "name": "lines"},
            "series": [
                {"name": label, "type": "bar", "stack": "b",
                 "data": [m.buckets[k] for m in months]}
                for k, label in enumerate(result.bucket_labels)
            ],
        },
        "rolls": {
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category",
                      "data": [f"{r.source}->{r.target}" for r in result.roll_rates]},
            "yAxis": {"type": "value", "name": "% rolled"},
            "series": [{"name": "roll rate %", "type": "bar",
                        "data": [_pct(r.rate) for r in result.roll_rates]}],
        },
        "vintages_60": _vintage_chart(result, "ever_60_plus", longest),
        "vintages_off": _vintage_chart(result, "charged_off", longest),
        "revenue": {
            "tooltip": {"trigger": "axis"},
            "legend": {},
            "xAxis": _axis(result),
            "yAxis": {"type": "value", "name": result.currency},
            "series": [
                {"name": name, "type": "line" if name == "charge-offs" else "bar",
                 **({} if name == "charge-offs" else {"stack": "revenue"}), "data": data}
                for name, data in flows
            ],
        },
    }  # fmt: skip


def _totals(result: SimulationResult) -> dict[str, Any]:
    return {
        name: result.total(name).amount
        for name in ("spend", "payments", "interest", "fees", "charge_offs")
    }


def _context(result: SimulationResult | None) -> dict[str, Any]:
    if result is None:
        return {"result": None, "params": SimulationParams()}
    return {
        "result": result,
        "params": result.params,
        "charts": simulation_charts(result),
        "totals": _totals(result),
    }


@router.get("", response_class=HTMLResponse)
def panel(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    try:
        result: SimulationResult | None = platform.lending_simulations.latest(actor)
    except NotFound:
        result = None
    return render(request, "lending/_simulation.html", _context(result))


@router.post("", response_class=HTMLResponse)
def run(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    customers: Annotated[str, Form()] = "10000",
    months: Annotated[str, Form()] = "12",
    seed: Annotated[str, Form()] = "14",
    product_id: Annotated[str, Form()] = "everyday@1",
) -> Response:
    params = SimulationParams.parse(
        {"customers": customers, "months": months, "seed": seed, "product_id": product_id}
    )
    result = platform.lending_simulations.run(actor, params)
    return render(request, "lending/_simulation.html", _context(result))


def simulation_report(result: SimulationResult) -> str:
    """One HTML file with the run's figures and charts, ECharts inlined from the vendored copy
    (no CDN: the file opens offline)."""
    script = ECHARTS.read_text(encoding="utf-8")
    page = templates.env.get_template("lending/simulation_report.html")
    return page.render(echarts_js=script, **_context(result))
