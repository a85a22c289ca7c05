"""Console: risk rule editor with validation, backtest and shadow comparison charts, case queue."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.core.principal import Principal
from finbridge.platform import Platform
from finbridge.risk.backtest import backtest_stored
from finbridge.risk.cases import CaseService
from finbridge.risk.engine import RiskEngine
from finbridge.risk.rules import RuleSetSpec
from finbridge.risk.setup import risk_engine_for
from finbridge.risk.shadow import compare_shadow
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/risk", include_in_schema=False)
NAV = ("Risk", "/console/risk")
NAV_ORDER = 50


def _risk(platform: Platform) -> RiskEngine:
    return risk_engine_for(platform.state, platform.engine, platform.clock, platform.settings)


def _versions(platform: Platform, actor: Principal) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "label": s.label, "status": s.status, "rules": len(s.spec.rules),
         "created_by": s.created_by, "created_at": s.created_at, "promoted_by": s.promoted_by}
        for s in _risk(platform).rule_sets.list(actor)
    ]  # fmt: skip


def _cases(platform: Platform, actor: Principal) -> list[Any]:
    return CaseService(platform.engine, platform.clock).queue(actor, status="active", limit=50)


def _shadow_chart(cmp_: dict[str, Any]) -> dict[str, Any]:
    days = [d["day"] for d in cmp_["daily"]]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["live flagged", "shadow flagged"]},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": "live flagged",
                "type": "bar",
                "data": [d["live_flagged"] for d in cmp_["daily"]],
            },
            {
                "name": "shadow flagged",
                "type": "bar",
                "data": [d["shadow_flagged"] for d in cmp_["daily"]],
            },
        ],
    }


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    actor.require_scope("risk:read")
    risk = _risk(platform)
    risk.refresh_rules(force=True)
    live = risk.live_rule_set
    cmp_ = compare_shadow(platform.engine, actor).to_json()
    return render(
        request,
        "risk/index.html",
        {
            "live": live.label,
            "shadow": risk.shadow_rule_set.label if risk.shadow_rule_set else None,
            "editor": json.dumps(live.spec.to_json(), indent=2),
            "versions": _versions(platform, actor),
            "cases": _cases(platform, actor),
            "shadow_cmp": cmp_,
            "shadow_chart": _shadow_chart(cmp_),
            "model": risk.model.version if risk.model else "none",
        },
    )


def _parse(body: str) -> RuleSetSpec:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"not valid JSON ({exc.msg}, line {exc.lineno})", field="body"
        ) from None
    if not isinstance(data, dict):
        raise ValidationError("a rule set is a JSON object", field="body")
    return RuleSetSpec.from_json(data)


@router.post("/validate", response_class=HTMLResponse)
def validate(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep, body: str = Form("")
) -> Response:
    actor.require_scope("risk:read")
    try:
        checked = _risk(platform).rule_sets.check(_parse(body))
        problems = [{"field": p.field, "message": p.message} for p in checked]
    except FinbridgeError as exc:
        problems = [{"field": exc.field or "body", "message": exc.detail}]
    return render(request, "risk/_validation.html", {"problems": problems, "saved": None})


@router.post("/drafts", response_class=HTMLResponse)
def save_draft(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep, body: str = Form("")
) -> Response:
    try:
        stored = _risk(platform).rule_sets.save_draft(actor, _parse(body))
        problems: list[dict[str, Any]] = []
        saved = stored.label
    except FinbridgeError as exc:
        problems = exc.extra.get("problems") or [{"field": exc.field, "message": exc.detail}]
        saved = None
    return render(
        request, "risk/_validation.html",
        {"problems": problems, "saved": saved, "versions": _versions(platform, actor)},
    )  # fmt: skip


@router.post("/rule-sets/{set_id}/{action}", response_class=HTMLResponse)
def act(
    request: Request, set_id: str, action: str, actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
) -> Response:  # fmt: skip
    risk = _risk(platform)
    error = None
    try:
        if action == "backtest":
            result = backtest_stored(risk, actor, set_id)
            return render(request, "risk/_backtest.html", _backtest_context(result))
        if action not in ("shadow", "promote"):
            raise ValidationError("unknown action", field="action")
        risk.rule_sets.promote(actor, set_id, mode="shadow" if action == "shadow" else "live")
        risk.refresh_rules(force=True)
    except FinbridgeError as exc:
        error = str(exc)
    return render(
        request, "risk/_versions.html", {"versions": _versions(platform, actor), "error": error}
    )


def _backtest_context(result: dict[str, Any]) -> dict[str, Any]:
    live, draft = result["live"], result["draft"]
    days = [d["day"] for d in draft["daily"]]
    chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["live flagged", "draft flagged", "draft caught"]},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value"},
        "series": [
            {"name": "live flagged", "type": "line", "data": [d["flagged"] for d in live["daily"]]},
            {
                "name": "draft flagged",
                "type": "line",
                "data": [d["flagged"] for d in draft["daily"]],
            },
            {"name": "draft caught", "type": "bar", "data": [d["caught"] for d in draft["daily"]]},
        ],
    }
    keys = ("events", "flagged", "true_positives", "precision", "recall", "money_caught",
            "customers_disturbed")  # fmt: skip
    rows = [{"measure": k, "live": live[k], "draft": draft[k]} for k in keys]
    return {"rows": rows, "chart": chart, "live": live, "draft": draft}


@router.post("/cases/{case_id}/{action}", response_class=HTMLResponse)
def case_action(
    request: Request, case_id: str, action: str, actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
) -> Response:  # fmt: skip
    svc = CaseService(platform.engine, platform.clock)
    error = None
    try:
        if action == "assign":
            svc.assign(actor, case_id)
        elif action in ("confirm", "release"):
            svc.close(actor, case_id, action)
        else:
            raise ValidationError("unknown action", field="action")
    except FinbridgeError as exc:
        error = str(exc)
    return render(request, "risk/_cases.html", {"cases": _cases(platform, actor), "error": error})
