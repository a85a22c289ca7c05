"""Console: risk control in four pages under one sub-navigation.

``/console/risk`` rule editor with validation and the stored versions; ``/console/risk/backtest``
a stored version replayed against the live one (table + ECharts); ``/console/risk/shadow`` live
vs shadow decisions (agreement, outcome matrix, daily chart), the live and shadow rule sets and
models, putting a registered model in shadow and the two promotions; ``/console/risk/cases`` the
review queue (take, note, fraud / not fraud). Every page needs ``risk:read``; every change goes
through the risk services with the signed-in principal, which check ``risk:write``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError, ValidationError, http_status
from finbridge.core.principal import Principal
from finbridge.platform import Platform
from finbridge.risk import RiskService, RuleSetSpec
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/risk", include_in_schema=False)
NAV = ("Risk", "/console/risk")
NAV_ORDER = 50

SetId = Annotated[str | None, Query(max_length=64)]


def _versions(platform: Platform, actor: Principal) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "label": s.label, "status": s.status, "rules": len(s.spec.rules),
         "created_by": s.created_by, "created_at": s.created_at, "promoted_by": s.promoted_by}
        for s in platform.risk.rule_sets.list(actor)
    ]  # fmt: skip


def _cases(platform: Platform, actor: Principal) -> list[Any]:
    return platform.risk.cases.queue(actor, status="active", limit=50)


# -- rules: editor, validation, versions -------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    actor.require_scope("risk:read")
    risk = platform.risk
    return render(
        request,
        "risk/index.html",
        {
            **risk.running(),
            "editor": json.dumps(risk.decisions.live_rule_set.spec.to_json(), indent=2),
            "versions": _versions(platform, actor),
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
        checked = platform.risk.rule_sets.check(_parse(body))
        problems = [{"field": p.field, "message": p.message} for p in checked]
    except FinbridgeError as exc:
        problems = [{"field": exc.field or "body", "message": exc.detail}]
    return render(request, "risk/_validation.html", {"problems": problems, "saved": None})


@router.post("/drafts", response_class=HTMLResponse)
def save_draft(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep, body: str = Form("")
) -> Response:
    try:
        stored = platform.risk.rule_sets.save_draft(actor, _parse(body))
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
    risk = platform.risk
    error = None
    try:
        if action == "backtest":
            result = risk.backtest(actor, set_id)
            return render(request, "risk/_backtest.html", _backtest_context(result))
        if action not in ("shadow", "promote"):
            raise ValidationError("unknown action", field="action")
        risk.promote_rule_set(actor, set_id, mode="shadow" if action == "shadow" else "live")
    except FinbridgeError as exc:
        error = str(exc)
    return render(
        request, "risk/_versions.html", {"versions": _versions(platform, actor), "error": error}
    )


# -- backtest ----------------------------------------------------------------------------------
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


@router.get("/backtest", response_class=HTMLResponse)
def backtest_page(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep,
    set_id: SetId = None,
) -> Response:  # fmt: skip
    """Pick a stored version; with ``?set_id=`` the replay runs and its result is on the page."""
    actor.require_scope("risk:read")
    risk = platform.risk
    candidates = [v for v in _versions(platform, actor) if v["status"] != "active"]
    context: dict[str, Any] = {**risk.running(), "candidates": candidates, "selected": set_id}
    if set_id:
        try:
            context["result"] = _backtest_context(risk.backtest(actor, set_id))
        except FinbridgeError as exc:
            context["error"] = str(exc)
    return render(request, "risk/backtest.html", context)


@router.post("/backtest", response_class=HTMLResponse)
def run_backtest(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep,
    set_id: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:  # fmt: skip
    result = platform.risk.backtest(actor, set_id)  # errors render as a fragment
    return render(request, "risk/_backtest.html", _backtest_context(result))


# -- shadow ------------------------------------------------------------------------------------
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


def _shadow_state(risk: RiskService, actor: Principal) -> dict[str, Any]:
    return {**risk.running(), "registered": risk.registered_models(actor)}


def _shadow_panel(
    request: Request, actor: Principal, risk: RiskService, *, done: str | None = None,
    error: FinbridgeError | None = None,
) -> Response:  # fmt: skip
    context = {**_shadow_state(risk, actor), "done": done, "error": error}
    code = http_status(error) if error is not None else 200
    return render(request, "risk/_shadow_models.html", context, status_code=code)


@router.get("/shadow", response_class=HTMLResponse)
def shadow_page(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    actor.require_scope("risk:read")
    risk = platform.risk
    cmp_ = risk.shadow_comparison(actor).to_json()
    return render(
        request,
        "risk/shadow.html",
        {
            **_shadow_state(risk, actor),
            "shadow_cmp": cmp_,
            "shadow_chart": _shadow_chart(cmp_),
            "done": None,
            "error": None,
        },
    )


@router.post("/shadow/promote-rules", response_class=HTMLResponse)
def promote_shadow_rules(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    actor.require_scope("risk:read")  # the panel shows state: no render for outsiders
    risk = platform.risk
    try:
        promoted = risk.promote_shadow_rule_set(actor)
    except FinbridgeError as exc:
        return _shadow_panel(request, actor, risk, error=exc)
    return _shadow_panel(request, actor, risk, done=f"{promoted.label} is now live.")


@router.post("/shadow/promote-model", response_class=HTMLResponse)
def promote_shadow_model(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    actor.require_scope("risk:read")  # the panel shows state: no render for outsiders
    risk = platform.risk
    try:
        version = risk.promote_shadow_model(actor)
    except FinbridgeError as exc:
        return _shadow_panel(request, actor, risk, error=exc)
    return _shadow_panel(request, actor, risk, done=f"Model {version} is now live.")


@router.post("/shadow/model", response_class=HTMLResponse)
def shadow_model(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep,
    version: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Put a registered model in shadow (``version``), or stop the shadow model (empty)."""
    actor.require_scope("risk:read")
    risk = platform.risk
    try:
        if version:
            risk.start_shadow_model(actor, version)
            done = f"Model {version} now scores in shadow."
        else:
            stopped = risk.stop_shadow_model(actor)
            done = f"Stopped shadow model {stopped}." if stopped else "No shadow model was running."
    except FinbridgeError as exc:
        return _shadow_panel(request, actor, risk, error=exc)
    return _shadow_panel(request, actor, risk, done=done)


# -- cases -------------------------------------------------------------------------------------
@router.get("/cases", response_class=HTMLResponse)
def cases_page(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    actor.require_scope("risk:read")
    summary = platform.risk.running()
    return render(request, "risk/cases.html", {**summary, "cases": _cases(platform, actor)})


@router.post("/cases/{case_id}/{action}", response_class=HTMLResponse)
def case_action(
    request: Request, case_id: str, action: str, actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep, body: Annotated[str, Form(max_length=4000)] = "",
) -> Response:  # fmt: skip
    svc = platform.risk.cases
    error = done = None
    try:
        if action == "assign":
            svc.assign(actor, case_id)
        elif action == "note":
            noted = svc.note(actor, case_id, body)
            done = f"Note added to case {case_id[:8]} ({len(noted.notes)} in all)."
        elif action in ("confirm", "release"):
            svc.close(actor, case_id, action, body)
        else:
            raise ValidationError("unknown action", field="action")
    except FinbridgeError as exc:
        error = str(exc)
    context = {"cases": _cases(platform, actor), "error": error, "done": done}
    return render(request, "risk/_cases.html", context)
