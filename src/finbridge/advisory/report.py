"""The walk-forward report: one self-contained HTML page, inline SVG charts, no scripts.

Shows, for C1..C5 beside equal weight and 60/40 on the same out-of-sample days: the growth of
1 (net of costs), the drawdown, a metrics table, each model's current weights and the rules it
was built and validated with. Every label is escaped, so the page is safe to serve as-is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from finbridge.advisory.catalogue import LEVEL_LIMITS
from finbridge.advisory.portfolios import (
    COST_RATE,
    TEST_DAYS,
    TRAIN_DAYS,
    Backtest,
    ModelReport,
)

_W, _H, _PAD = 760, 240, 40
COLOURS = ("#1b9e77", "#66a61e", "#e6ab02", "#d95f02", "#e7298a", "#7570b3", "#666666")


def _chart(title: str, series: Sequence[tuple[str, np.ndarray]], *, pct: bool) -> str:
    values = np.concatenate([s for _, s in series])
    lo, hi = float(values.min()), float(values.max())
    hi = hi if hi > lo else lo + 1e-9
    n = max(len(s) for _, s in series)
    step = max(1, n // 500)

    def point(k: int, v: float) -> str:
        x = _PAD + (_W - 2 * _PAD) * k / max(1, n - 1)
        y = _H - _PAD / 2 - (_H - _PAD) * (v - lo) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for (name, s), colour in zip(series, COLOURS, strict=False):
        pts = " ".join(point(k, float(v)) for k, v in enumerate(s) if k % step == 0)
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.4" points="{pts}">'
            f"<title>{html.escape(name)}</title></polyline>"
        )
    fmt = (lambda v: f"{v:.0%}") if pct else (lambda v: f"{v:.2f}")
    legend = " ".join(
        f'<span style="color:{c}">&#9632; {html.escape(name)}</span>'
        for (name, _), c in zip(series, COLOURS, strict=False)
    )
    return (
        f"<section><h3>{html.escape(title)}</h3>"
        f'<svg width="{_W}" height="{_H}" role="img" aria-label="{html.escape(title)}">'
        f'<text x="2" y="14" font-size="11">{fmt(hi)}</text>'
        f'<text x="2" y="{_H - 4}" font-size="11">{fmt(lo)}</text>'
        f"{''.join(lines)}</svg><p>{legend}</p></section>"
    )


def _nav(b: Backtest) -> np.ndarray:
    return np.asarray(np.cumprod(1.0 + b.returns))


def _drawdown(b: Backtest) -> np.ndarray:
    nav = _nav(b)
    return np.asarray(nav / np.maximum.accumulate(nav) - 1.0)


def _row(b: Backtest) -> str:
    m = b.metrics
    cells = (
        b.name, b.method, f"{m.annual_return:.2%}", f"{m.annual_volatility:.2%}",
        f"{m.sharpe:.2f}", f"{m.max_drawdown:.1%}", f"{m.cvar_95:.2%}", f"{b.turnover:.1%}",
        f"{b.largest_rebalance:.1%}", str(len(b.over_limit)), m.risk_level,
    )  # fmt: skip
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def render_report(report: ModelReport) -> str:
    everything = (*report.models, *report.benchmarks)
    head = (
        "<tr><th>portfolio</th><th>method</th><th>annual return</th><th>volatility</th>"
        "<th>Sharpe</th><th>max drawdown</th><th>CVaR 95% (daily)</th>"
        "<th>turnover / rebalance</th><th>largest rebalance</th><th>over limit</th>"
        "<th>level (rule)</th></tr>"
    )
    weights = "".join(
        f"<tr><td>{b.name}</td><td>"
        + html.escape(", ".join(f"{c} {w:.1%}" for c, w in sorted(b.weights.items(),
                                                               key=lambda kv: -kv[1])))
        + f"</td><td>{html.escape(b.why)}</td></tr>"
        for b in report.models
    )  # fmt: skip
    limits = ", ".join(
        f"{lv}: vol &le; {v:.0%} and drawdown &le; {d:.0%}" for lv, v, d in LEVEL_LIMITS
    )
    ordered = "yes" if report.risk_ordered() else "NO"
    cap = html.escape(report.turnover_rule())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Model portfolios: walk-forward report</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:960px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:right}}
td:first-child,th:first-child,td:nth-child(2){{text-align:left}}</style></head><body>
<h1>Model portfolios C1&ndash;C5: out-of-sample (walk-forward) report</h1>
<p>Out-of-sample days {report.start} to {report.end}. Each model is refitted on the previous
{TRAIN_DAYS} trading days and held for {TEST_DAYS} (skfolio <code>WalkForward</code> +
<code>cross_val_predict</code>); weights drift between rebalances; every rebalance pays
{COST_RATE:.2%} of the value traded. Equal weight (all funds) and 60/40 (SPY/AGG) are rebalanced on
the same days at the same cost. Sharpe uses a zero risk-free rate. Risk ordered out of sample
(volatility and drawdown rise from C1 to C5): <b>{ordered}</b>.</p>
<p id="turnover-limit">{cap}</p>
<table>{head}{"".join(_row(b) for b in everything)}</table>
{_chart("Growth of 1, net of costs", [(b.name, _nav(b)) for b in everything], pct=False)}
{_chart("Drawdown", [(b.name, _drawdown(b)) for b in everything], pct=True)}
<h2>Current weights (fitted on the latest {TRAIN_DAYS} days)</h2>
<table><tr><th>model</th><th>weights</th><th>why</th></tr>{weights}</table>
<h2>Level rule</h2><p>The level of a product or portfolio is the first of {limits} that both its
annualised volatility and its maximum drawdown fit; otherwise R5 (leveraged products are always
R5).</p>
<p>Data: 19 US ETFs, daily adjusted closes 2007-04..2017-11 (Kaggle "Huge Stock Market
Dataset", CC0). Past results on survivors of 2017; not a forecast.</p>
</body></html>
"""
