"""Model evaluation on a held-out sample and its self-contained HTML report.

``evaluate`` returns plain JSON (stored with the model version in the registry), and
``render_html`` draws it with inline SVG, so a report is one file that opens anywhere offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

from finbridge.credit.data import binary_target
from finbridge.credit.metrics import brier, calibration_table, discrimination, psi_status
from finbridge.credit.svg import bar_chart, line_chart

CURVE_POINTS = 80


def _thin(a: np.ndarray, b: np.ndarray) -> tuple[list[float], list[float]]:
    idx = np.unique(np.linspace(0, len(a) - 1, min(CURVE_POINTS, len(a))).astype(int))
    return [round(float(v), 4) for v in a[idx]], [round(float(v), 4) for v in b[idx]]


def evaluate(model: Any, X: pd.DataFrame, y: Any) -> dict[str, Any]:
    """Discrimination, calibration, bands, curves and bins of ``model`` on labelled data."""
    target = binary_target(y, bad_label=getattr(model, "bad_label", None))
    p = model.predict_proba(X)[:, 1]
    scores = np.asarray(model.credit_score(X), dtype=float)
    disc = discrimination(target, p)
    from sklearn.metrics import roc_curve  # on first use: seconds to import

    fpr, tpr, _ = roc_curve(target, p)
    order = np.argsort(scores)
    cum_bad = np.cumsum(target[order]) / max(target.sum(), 1)
    cum_good = np.cumsum(1 - target[order]) / max((1 - target).sum(), 1)
    ks_x, ks_bad = _thin(scores[order], cum_bad)
    _, ks_good = _thin(scores[order], cum_good)
    edges = np.linspace(scores.min(), scores.max(), 21)
    hist_good = np.histogram(scores[target == 0], bins=edges)[0] / max((target == 0).sum(), 1)
    hist_bad = np.histogram(scores[target == 1], bins=edges)[0] / max((target == 1).sum(), 1)
    bands = []
    for label, _floor in model.bands_:
        mask = np.array([model.band(s) == label for s in scores])
        bands.append(
            {
                "band": label,
                "n": int(mask.sum()),
                "bad_rate": float(target[mask].mean()) if mask.any() else None,
                "min_score": float(scores[mask].min()) if mask.any() else None,
            }
        )
    roc_x, roc_y = _thin(fpr, tpr)
    bins: list[dict[str, Any]] = []
    if hasattr(model, "points_table"):
        bins = model.points_table().to_dict("records")
    return {
        **disc.as_dict(),
        "brier": brier(target, p),
        "calibration": calibration_table(target, p),
        "bands": bands,
        "roc": {"fpr": roc_x, "tpr": roc_y},
        "ks_curve": {"score": ks_x, "bad": ks_bad, "good": ks_good},
        "score_hist": {
            "edges": [round(float(e), 2) for e in edges],
            "good": hist_good.tolist(),
            "bad": hist_bad.tolist(),
        },
        "bins": bins,
    }


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "" if v is None else str(v)


def render_html(
    title: str,
    info: dict[str, Any],
    evaluation: dict[str, Any],
    stability: dict[str, Any] | None = None,
    *,
    decisions: list[str] | None = None,
    warnings: list[str] | None = None,
) -> str:
    """One self-contained HTML page: warnings, metrics, ROC, KS, score distribution, bins,
    stability, and the data profile with the decisions taken before training."""
    ev = evaluation
    charts = [
        line_chart(
            f"ROC (AUC {ev['auc']:.3f})",
            [("model", ev["roc"]["fpr"], ev["roc"]["tpr"])],
            xlabel="false positive rate",
            ylabel="true positive rate",
            diagonal=True,
        ),
        line_chart(
            f"KS {ev['ks']:.3f}",
            [
                ("bad", ev["ks_curve"]["score"], ev["ks_curve"]["bad"]),
                ("good", ev["ks_curve"]["score"], ev["ks_curve"]["good"]),
            ],
            xlabel="score",
            ylabel="cumulative share",
        ),
        bar_chart(
            "Score distribution by outcome",
            [f"{e:.0f}" for e in ev["score_hist"]["edges"][:-1]],
            [("good", ev["score_hist"]["good"]), ("bad", ev["score_hist"]["bad"])],
            xlabel="score",
            ylabel="share",
        ),
        bar_chart(
            "Bad rate by score band",
            [b["band"] for b in ev["bands"]],
            [("bad rate", [b["bad_rate"] or 0.0 for b in ev["bands"]])],
            xlabel="band",
            ylabel="bad rate",
        ),
    ]
    for feature in list(dict.fromkeys(r["feature"] for r in ev["bins"]))[:4]:
        rows = [r for r in ev["bins"] if r["feature"] == feature]
        charts.append(
            bar_chart(
                f"{feature}: bad rate per bin",
                [str(r["bin"]) for r in rows],
                [("bad rate", [float(r["bad_rate"]) for r in rows])],
                xlabel="bin",
                ylabel="bad rate",
            )
        )
    metrics = {k: ev[k] for k in ("auc", "gini", "ks", "brier", "n", "bad_rate")}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;margin:24px}}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:12px}.charts svg{margin:4px;border:1px solid #eee}"
        ".retrain{color:#d1242f}.alert{color:#9a6700}.stable{color:#1a7f37}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *(
            [f"<p class='retrain'><b>Warning:</b> {escape(w)}</p>" for w in warnings]
            if warnings
            else []
        ),
        _table([{"key": k, "value": v} for k, v in info.items()], ["key", "value"]),
        "<h2>Held-out performance</h2>",
        _table([metrics], list(metrics)),
        "<div class='charts'>",
        *charts,
        "</div><h2>Calibration</h2>",
        _table(ev["calibration"], ["group", "n", "predicted", "observed"]),
        "<h2>Score bands</h2>",
        _table(ev["bands"], ["band", "n", "min_score", "bad_rate"]),
    ]
    if ev["bins"]:
        parts += [
            "<h2>Bins</h2>",
            _table(ev["bins"], ["feature", "bin", "count", "bad_rate", "woe", "iv", "points"]),
        ]
    if stability:
        status = stability["status"]
        rows = [
            {
                "variable": "score",
                "psi": stability["score_psi"],
                "status": psi_status(stability["score_psi"]),
            }
        ]
        rows += [
            {"variable": k, "psi": v, "status": psi_status(v)}
            for k, v in stability["feature_psi"].items()
        ]
        parts += [
            f"<h2>Stability: <span class='{status}'>{escape(status)}</span></h2>",
            f"<p>alert at PSI {stability['alert_level']}, retrain at "
            f"{stability['retrain_level']}; {stability['n_current']} current applicants</p>",
            _table(rows, ["variable", "psi", "status"]),
        ]
    if decisions:
        parts += [
            "<h2>Data profile and decisions</h2><ul>",
            *(f"<li>{escape(line)}</li>" for line in decisions),
            "</ul>",
        ]
    parts.append("</body></html>")
    return "".join(parts)
