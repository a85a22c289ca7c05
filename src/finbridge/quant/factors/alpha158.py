"""Qlib's Alpha158 factor set written in finbridge expressions (same 158 definitions).

KBAR 9 + PRICE 4 (OPEN0, HIGH0, LOW0, VWAP0) + 29 rolling operators x windows 5/10/20/30/60.
Differences from Qlib, on purpose and documented:
- the data has no traded VWAP, so ``vwap`` is the typical price (high + low + close) / 3;
- rolling operators need a full window (Qlib's Mean/Std accept partial windows at the start
  of a series), so the first ``d - 1`` rows of each instrument are missing rather than partial.
"""

from __future__ import annotations

WINDOWS = (5, 10, 20, 30, 60)
_EPS = "1e-12"
_CHANGE = "(close - ref(close, 1))"
_VCHANGE = "(volume - ref(volume, 1))"


def _rolling(d: int) -> list[tuple[str, str]]:
    up = f"sum(greater({_CHANGE}, 0), {d})"
    down = f"sum(greater(ref(close, 1) - close, 0), {d})"
    total = f"(sum(abs({_CHANGE}), {d}) + {_EPS})"
    vup = f"sum(greater({_VCHANGE}, 0), {d})"
    vdown = f"sum(greater(ref(volume, 1) - volume, 0), {d})"
    vtotal = f"(sum(abs({_VCHANGE}), {d}) + {_EPS})"
    move = "abs(close / ref(close, 1) - 1) * volume"
    return [
        (f"ROC{d}", f"ref(close, {d}) / close"),
        (f"MA{d}", f"mean(close, {d}) / close"),
        (f"STD{d}", f"std(close, {d}) / close"),
        (f"BETA{d}", f"slope(close, {d}) / close"),
        (f"RSQR{d}", f"rsquare(close, {d})"),
        (f"RESI{d}", f"resi(close, {d}) / close"),
        (f"MAX{d}", f"max(high, {d}) / close"),
        (f"MIN{d}", f"min(low, {d}) / close"),
        (f"QTLU{d}", f"quantile(close, {d}, 0.8) / close"),
        (f"QTLD{d}", f"quantile(close, {d}, 0.2) / close"),
        (f"RANK{d}", f"rank(close, {d})"),
        (f"RSV{d}", f"(close - min(low, {d})) / (max(high, {d}) - min(low, {d}) + {_EPS})"),
        (f"IMAX{d}", f"idxmax(high, {d}) / {d}"),
        (f"IMIN{d}", f"idxmin(low, {d}) / {d}"),
        (f"IMXD{d}", f"(idxmax(high, {d}) - idxmin(low, {d})) / {d}"),
        (f"CORR{d}", f"corr(close, log(volume + 1), {d})"),
        (f"CORD{d}", f"corr(close / ref(close, 1), log(volume / ref(volume, 1) + 1), {d})"),
        (f"CNTP{d}", f"mean(close > ref(close, 1), {d})"),
        (f"CNTN{d}", f"mean(close < ref(close, 1), {d})"),
        (f"CNTD{d}", f"mean(close > ref(close, 1), {d}) - mean(close < ref(close, 1), {d})"),
        (f"SUMP{d}", f"{up} / {total}"),
        (f"SUMN{d}", f"{down} / {total}"),
        (f"SUMD{d}", f"({up} - {down}) / {total}"),
        (f"VMA{d}", f"mean(volume, {d}) / (volume + {_EPS})"),
        (f"VSTD{d}", f"std(volume, {d}) / (volume + {_EPS})"),
        (f"WVMA{d}", f"std({move}, {d}) / (mean({move}, {d}) + {_EPS})"),
        (f"VSUMP{d}", f"{vup} / {vtotal}"),
        (f"VSUMN{d}", f"{vdown} / {vtotal}"),
        (f"VSUMD{d}", f"({vup} - {vdown}) / {vtotal}"),
    ]


KBAR: list[tuple[str, str]] = [
    ("KMID", "(close - open) / open"),
    ("KLEN", "(high - low) / open"),
    ("KMID2", f"(close - open) / (high - low + {_EPS})"),
    ("KUP", "(high - greater(open, close)) / open"),
    ("KUP2", f"(high - greater(open, close)) / (high - low + {_EPS})"),
    ("KLOW", "(less(open, close) - low) / open"),
    ("KLOW2", f"(less(open, close) - low) / (high - low + {_EPS})"),
    ("KSFT", "(2 * close - high - low) / open"),
    ("KSFT2", f"(2 * close - high - low) / (high - low + {_EPS})"),
]
PRICE: list[tuple[str, str]] = [
    ("OPEN0", "open / close"),
    ("HIGH0", "high / close"),
    ("LOW0", "low / close"),
    ("VWAP0", "vwap / close"),
]


def _rolling_all() -> list[tuple[str, str]]:
    # Qlib orders by operator, then window (ROC5..ROC60, MA5..MA60, ...).
    per_window = [_rolling(d) for d in WINDOWS]
    return [per_window[w][op] for op in range(len(per_window[0])) for w in range(len(WINDOWS))]


ALPHA158: dict[str, str] = dict(KBAR + PRICE + _rolling_all())

# Qlib's label: the return from tomorrow's close to the day after (trade at t+1, hold one day).
ALPHA158_LABEL = "ref(close, -2) / ref(close, -1) - 1"
