"""Tiny inline-SVG charts for self-contained HTML reports (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

W, H, PAD = 420, 260, 40
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700")


def _sx(x: float, lo: float, hi: float) -> float:
    return PAD + (x - lo) / ((hi - lo) or 1) * (W - 2 * PAD)


def _sy(y: float, lo: float, hi: float) -> float:
    return H - PAD - (y - lo) / ((hi - lo) or 1) * (H - 2 * PAD)


def _frame(title: str, body: str, xlabel: str, ylabel: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">'
        f'<rect width="{W}" height="{H}" fill="#fff"/>'
        f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13" '
        f'font-family="sans-serif">{escape(title)}</text>'
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#444"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#444"/>'
        f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="11" '
        f'font-family="sans-serif">{escape(xlabel)}</text>'
        f'<text x="12" y="{H / 2}" font-size="11" font-family="sans-serif" '
        f'transform="rotate(-90 12 {H / 2})" text-anchor="middle">{escape(ylabel)}</text>'
        f"{body}</svg>"
    )


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    diagonal: bool = False,
) -> str:
    """Lines (name, xs, ys); axes fitted to the data."""
    xs = [x for _, sx, _ in series for x in sx]
    ys = [y for _, _, sy in series for y in sy]
    x0, x1, y0, y1 = min(xs), max(xs), min(0.0, min(ys)), max(ys)
    parts = []
    if diagonal:
        parts.append(
            f'<line x1="{_sx(x0, x0, x1):.1f}" y1="{_sy(y0, y0, y1):.1f}" '
            f'x2="{_sx(x1, x0, x1):.1f}" y2="{_sy(y1, y0, y1):.1f}" stroke="#aaa" '
            f'stroke-dasharray="4"/>'
        )
    for k, (name, sx, sy) in enumerate(series):
        pts = " ".join(
            f"{_sx(x, x0, x1):.1f},{_sy(y, y0, y1):.1f}" for x, y in zip(sx, sy, strict=True)
        )
        colour = COLOURS[k % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{pts}"/>')
        parts.append(
            f'<text x="{W - PAD - 4}" y="{PAD + 14 * k}" text-anchor="end" font-size="11" '
            f'fill="{colour}" font-family="sans-serif">{escape(name)}</text>'
        )
    parts.append(_ticks(x0, x1, y0, y1))
    return _frame(title, "".join(parts), xlabel, ylabel)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    xlabel: str = "",
    ylabel: str = "",
) -> str:
    """Grouped bars: one group per label, one bar per series."""
    values = [v for _, vs in series for v in vs]
    top = max(values) if values else 1.0
    n, k = max(len(labels), 1), max(len(series), 1)
    group_w = (W - 2 * PAD) / n
    bar_w = group_w * 0.8 / k
    parts = []
    for s, (name, vs) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        for i, v in enumerate(vs):
            x = PAD + i * group_w + group_w * 0.1 + s * bar_w
            y = _sy(v, 0, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{H - PAD - y:.1f}" fill="{colour}" opacity="0.8">'
                f"<title>{escape(labels[i])}: {v:.4g}</title></rect>"
            )
        parts.append(
            f'<text x="{W - PAD - 4}" y="{PAD + 14 * s}" text-anchor="end" font-size="11" '
            f'fill="{colour}" font-family="sans-serif">{escape(name)}</text>'
        )
    for i, label in enumerate(labels):
        if n <= 12:
            x = PAD + (i + 0.5) * group_w
            parts.append(
                f'<text x="{x:.1f}" y="{H - PAD + 12}" text-anchor="middle" font-size="9" '
                f'font-family="sans-serif">{escape(label[:10])}</text>'
            )
    parts.append(
        f'<text x="{PAD - 4}" y="{PAD}" text-anchor="end" font-size="9" '
        f'font-family="sans-serif">{top:.3g}</text>'
    )
    return _frame(title, "".join(parts), xlabel, ylabel)


def _ticks(x0: float, x1: float, y0: float, y1: float) -> str:
    out = []
    for frac in (0.0, 0.5, 1.0):
        xv, yv = x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)
        out.append(
            f'<text x="{_sx(xv, x0, x1):.1f}" y="{H - PAD + 12}" text-anchor="middle" '
            f'font-size="9" font-family="sans-serif">{xv:.3g}</text>'
            f'<text x="{PAD - 4}" y="{_sy(yv, y0, y1) + 3:.1f}" text-anchor="end" '
            f'font-size="9" font-family="sans-serif">{yv:.3g}</text>'
        )
    return "".join(out)
