"""Console page of the learning loop: PSI and label-delayed performance of every live model
(ECharts), their alerts, and the fraud model's retraining turn and rollback as actions.

Reads and actions go through the platform's monitoring jobs and the risk face with the
signed-in principal; an operator sees the engines their scopes allow (risk:read, credit:read).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError, PermissionDenied
from finbridge.platform import monitor_store, retrain_fraud_model, run_monitors
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/monitoring", include_in_schema=False)
ENGINES = ("risk", "credit")


def _series(runs: list[Any], value: Any) -> dict[str, Any]:
    """An ECharts line option: one series per model version, days on the x axis."""
    days = sorted({r.day.isoformat() for r in runs})
    by_model: dict[str, dict[str, Any]] = {}
    for r in runs:
        by_model.setdefault(f"{r.engine}:{r.model} {r.version}", {})[r.day.isoformat()] = value(r)
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll"},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value"},
        "series": [
            {"name": name, "type": "line", "connectNulls": False,
             "data": [points.get(d) for d in days]}
            for name, points in sorted(by_model.items())
        ],
    }  # fmt: skip


def _context(platform: ConsolePlatformDep, actor: ConsolePrincipalDep) -> dict[str, Any]:
    store = monitor_store(platform)
    runs: list[Any] = []
    hidden = []
    for engine in ENGINES:
        try:
            runs += store.history(actor, engine=engine)
        except PermissionDenied:
            hidden.append(engine)
    latest: dict[tuple[str, str, str], Any] = {}
    for r in runs:
        latest[(r.engine, r.model, r.version)] = r  # history is oldest first
    models = None
    if "risk" not in hidden:
        models = platform.risk.models(actor)
    return {
        "runs": runs,
        "latest": sorted(latest.values(), key=lambda r: (r.engine, r.model, r.version)),
        "alerts": [(r, a) for r in runs for a in r.alerts][-50:],
        "hidden": hidden,
        "psi_chart": _series(runs, lambda r: r.score_psi),
        "auc_chart": _series(runs, lambda r: r.performance.get("auc")),
        "models": models,
        "message": None,
        "error": None,
    }


@router.get("")
def page(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    return render(request, "monitoring/index.html", _context(platform, actor))


@router.post("/{action}")
def act(
    request: Request, action: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    message, error = None, None
    try:
        if action == "run":
            yesterday = platform.clock.now().astimezone(UTC).date() - timedelta(days=1)
            done = run_monitors(platform, actor, yesterday)
            message = f"monitored {len(done)} model(s) for {yesterday}"
        elif action in ("retrain", "retrain-decisions"):
            if action == "retrain-decisions":
                turn = retrain_fraud_model(platform, actor, source="decisions")
            else:
                turn = retrain_fraud_model(platform, actor)
            verdict = "promoted" if turn.promote else "kept in shadow"
            message = f"{turn.challenger.version} {verdict}: {turn.reason}"
        elif action == "rollback":
            live = platform.risk.rollback_model(actor)
            message = f"rolled back: {live or 'no model (rules only)'} decides again"
        else:
            error = f"unknown action {action}"
    except FinbridgeError as exc:
        error = str(exc)
    context = {**_context(platform, actor), "message": message, "error": error}
    return render(request, "monitoring/_body.html", context)
