"""Tear sheet: one self-contained HTML page with inline SVG charts (no scripts, no CDN).

Charts: cumulative return (strategy and benchmark), cumulative excess return, drawdown,
rolling 63-day Sharpe, daily turnover, gross exposure and, when given, the daily IC. The page
embeds nothing it did not compute and escapes every label, so it is safe to serve as-is.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from finbridge.quant import metrics
from finbridge.quant.backtest.engine import BacktestResult

F64 = metrics.F64
_W, _H, _PAD = 720, 180, 36
_COLOURS = ("#2563eb", "#9ca3af", "#dc2626")


def _svg(
    title: str, dates: Sequence[dt.date], series: Sequence[tuple[str, F64]], *, pct: bool = True
) -> str:
    values = np.concatenate([np.asarray(s, dtype=float) for _, s in series])
    finite = values[np.isfinite(values)]
    if finite.size == 0 or len(dates) < 2:
        return f"<section><h3>{html.escape(title)}</h3><p>no data</p></section>"
    lo, hi = float(finite.min()), float(finite.max())
    if math.isclose(lo, hi):
        lo, hi = lo - 1e-9, hi + 1e-9
    n = len(dates)

    def xy(k: int, v: float) -> str:
        x = _PAD + (_W - 2 * _PAD) * k / (n - 1)
        y = _H - _PAD / 2 - (_H - _PAD) * (v - lo) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    paths = []
    step = max(1, n // 600)  # at most ~600 points per line keeps pages small
    for (name, s), colour in zip(series, _COLOURS, strict=False):
        pts = " ".join(xy(k, float(v)) for k, v in enumerate(s) if k % step == 0 and np.isfinite(v))
        paths.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}">'
            f"<title>{html.escape(name)}</title></polyline>"
        )
    fmt = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.2f}")
    zero = ""
    if lo < 0 < hi:
        y0 = xy(0, 0.0).split(",")[1]
        zero = f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y0}" y2="{y0}" stroke="#e5e7eb"/>'
    legend = " ".join(
        f'<span style="color:{c}">&#9632; {html.escape(name)}</span>'
        for (name, _), c in zip(series, _COLOURS, strict=False)
    )
    return (
        f"<section><h3>{html.escape(title)}</h3><div class=legend>{legend}</div>"
        f'<svg viewBox="0 0 {_W} {_H}" width="100%" role="img" aria-label="{html.escape(title)}">'
        f"{zero}{''.join(paths)}"
        f'<text x="2" y="12" font-size="10">{fmt(hi)}</text>'
        f'<text x="2" y="{_H - 4}" font-size="10">{fmt(lo)}</text>'
        f'<text x="{_PAD}" y="{_H - 4}" font-size="10">{dates[0]}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 4}" font-size="10" text-anchor="end">{dates[-1]}</text>'
        "</svg></section>"
    )


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4f}"


def render_tearsheet(
    result: BacktestResult,
    *,
    title: str = "Backtest",
    ic: pl.DataFrame | None = None,
    notes: Sequence[str] = (),
    signal: Mapping[str, float] | None = None,
) -> str:
    """HTML tear sheet of a backtest; ``ic`` is a frame of (date, ic) from evaluation and
    ``signal`` a flat table of signal statistics (IC, decay, quantile returns)."""
    r = result.returns
    bench = result.benchmark_returns
    summary = metrics.summarize(r, bench, result.turnover, result.gross_exposure)
    dates = result.dates
    charts = [
        _svg(
            "Cumulative return",
            dates,
            [("strategy", metrics.cumulative(r))]
            + ([("benchmark", metrics.cumulative(bench))] if bench is not None else []),
        ),
    ]
    if bench is not None:
        charts.append(
            _svg("Cumulative excess return", dates, [("excess", metrics.cumulative(r - bench))])
        )
    charts += [
        _svg("Drawdown", dates, [("drawdown", metrics.drawdown(r))]),
        _svg("Rolling Sharpe (63 days)", dates, [("sharpe", metrics.rolling_sharpe(r))], pct=False),
        _svg("Turnover", dates, [("traded / equity", result.turnover)]),
        _svg("Exposure", dates, [("gross exposure", result.gross_exposure)]),
    ]
    if ic is not None and ic.height > 1:
        ic_dates = ic["date"].to_list()
        rolling = ic["ic"].rolling_mean(20, min_samples=1).to_numpy()
        charts.append(
            _svg(
                "IC over time",
                ic_dates,
                [("daily IC", ic["ic"].to_numpy()), ("20-day mean", rolling)],
                pct=False,
            )
        )
    rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{_fmt(v)}</td></tr>"
        for k, v in summary.as_dict().items()
    )
    extra = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    if signal:
        cells = "".join(
            f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{_fmt(v)}</td></tr>"
            for k, v in signal.items()
        )
        rows += f"<tr><th colspan=2><h3>Signal</h3></th></tr>{cells}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:780px;margin:1em auto;color:#111}"
        "table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left}"
        "th{font-weight:500;color:#555}.legend{font-size:12px}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{dates[0]} .. {dates[-1]}, {len(dates)} sessions, {result.trades.height} fills, "
        f"{result.rejections.height} rejected orders, final equity {result.final_equity}</p>"
        f"<table>{rows}</table>{'<ul>' + extra + '</ul>' if extra else ''}"
        f"{''.join(charts)}</body></html>"
    )
