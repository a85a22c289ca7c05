"""Invest: the customer's risk profile (the questionnaire in their language), holdings, a goal
plan with its fan chart, and rebalancing: the current proposal with a reason per trade (worked
out only when asked: an HTMX fragment, or the page again with ``?proposal=1``), accepted
here (a second factor when the guard asks for one, the same key sent again), and the standing
choice of automatic rebalancing at the close of business. Suitability and every rule stay in the
advisory service; this page only collects answers and shows results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from finbridge.advisory import GoalPlan, Profile, Proposal
from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, gettext, render
from finbridge.app.pages.home import own_accounts
from finbridge.core.errors import FinbridgeError, NotFound, StepUpRequired, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/advisory", include_in_schema=False)
CURRENCY = "USD"  # the fund universe is USD
_LABELS = {"p5": N_("5th percentile"), "p50": N_("Median"),
           "band": N_("5th to 95th percentile")}  # fmt: skip
_STEP_UP = N_("Confirm with the code from your authenticator app to place these trades.")
_BAD_CODE = N_("That code is not valid. Try again.")
_DONE = N_("Rebalancing accepted: %(num)s orders placed.")


def _profile(platform: Platform, actor: Principal) -> Profile | None:
    try:
        return platform.advisory.profile(actor, customer_id(actor))
    except NotFound:
        return None


def _fan(plan: GoalPlan, labels: dict[str, str]) -> dict[str, Any]:
    """ECharts option: the 5-95 band stacked on the 5th percentile, the median as a line."""
    low = [str(v) for v in plan.p5]
    band = [str(h - lo) for h, lo in zip(plan.p95, plan.p5, strict=True)]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {"type": "category", "data": [str(m) for m in plan.months_shown]},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {
                "name": labels["p5"],
                "type": "line",
                "data": low,
                "stack": "fan",
                "showSymbol": False,
                "lineStyle": {"opacity": 0.4},
            },
            {
                "name": labels["band"],
                "type": "line",
                "data": band,
                "stack": "fan",
                "showSymbol": False,
                "areaStyle": {"opacity": 0.25},
                "lineStyle": {"opacity": 0},
            },
            {
                "name": labels["p50"],
                "type": "line",
                "showSymbol": False,
                "data": [str(v) for v in plan.p50],
            },
        ],
    }


def _page(
    request: Request, platform: Platform, actor: Principal, *, plan: GoalPlan | None = None,
    error: FinbridgeError | None = None, form: dict[str, str] | None = None, status: int = 200,
    rebalancing: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    profile = _profile(platform, actor)
    holdings = platform.advisory.holdings(actor, customer_id(actor)) if profile else []
    context: dict[str, Any] = {
        "profile": profile, "holdings": holdings, "plan": plan, "error": error,
        "form": form or {"target": "", "target_date": "", "initial": "", "monthly": ""},
        "currency": CURRENCY, **(rebalancing or {}),
    }  # fmt: skip
    if profile is not None and not profile.expired and "usd_accounts" not in context:
        asked = request.query_params.get("proposal") == "1"
        context.update(_rebalancing(platform, actor, with_proposal=asked))
    if plan is not None:
        context["plan_pct"] = f"{plan.probability:.0%}"
        labels = {key: gettext(request, text) for key, text in _LABELS.items()}
        context["fan"] = _fan(plan, labels)
    return render(request, "advisory/index.html", context, status_code=status)


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _page(request, platform, actor)


@router.post("/plan")
async def plan(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    data = await request.form()
    form = {k: str(data.get(k, "")).strip() for k in ("target", "target_date", "initial",
                                                      "monthly")}  # fmt: skip
    try:
        try:
            target_date = dt.date.fromisoformat(form["target_date"])
        except ValueError:
            raise ValidationError("a date such as 2040-01-31", field="target_date") from None
        made = platform.advisory.plan(
            actor, customer_id(actor), target=Money.of(form["target"] or "0", CURRENCY),
            target_date=target_date, initial=Money.of(form["initial"] or "0", CURRENCY),
            monthly=Money.of(form["monthly"] or "0", CURRENCY),
        )  # fmt: skip
    except FinbridgeError as exc:
        return _page(request, platform, actor, error=exc, form=form, status=422)
    return _page(request, platform, actor, plan=made, form=form)


@router.get("/questionnaire")
def questionnaire(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return render(
        request, "advisory/questionnaire.html",
        {"q": platform.advisory.questionnaire(), "answers": {}, "error": None},
    )  # fmt: skip


@router.post("/questionnaire")
async def answer(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    q = platform.advisory.questionnaire()
    data = await request.form()
    answers: dict[str, Any] = {}
    for question in q.questions:
        value = str(data.get(question.id, "")).strip()
        if not value:
            continue  # the service names the first unanswered question
        answers[question.id] = (
            int(value) if question.kind == "number" and value.isdigit() else value
        )
    try:
        platform.advisory.submit_profile(actor, customer_id(actor), answers, version=q.version)
    except FinbridgeError as exc:
        return render(
            request, "advisory/questionnaire.html", {"q": q, "answers": answers, "error": exc},
            status_code=422,
        )  # fmt: skip
    return RedirectResponse("/app/advisory", status_code=303)


def _proposal(platform: Platform, actor: Principal) -> Proposal | None:
    try:
        return platform.advisory.rebalance_proposal(actor, customer_id(actor))
    except ValidationError:  # nothing invested yet: nothing to rebalance
        return None


def _rebalancing(
    platform: Platform, actor: Principal, *, step_up: bool = False, message: str | None = None,
    key: str | None = None, account_id: str = "", failed: FinbridgeError | None = None,
    with_proposal: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """What the rebalancing panel shows: the USD accounts, the standing choice and, when asked
    for (it values every holding against the model), the proposal."""
    accounts = [a for a in own_accounts(platform, actor) if a.currency == CURRENCY]
    choice = platform.advisory.rebalancing_choice(actor, customer_id(actor))
    panel: dict[str, Any] = {
        "usd_accounts": accounts, "choice": choice,
        "rebalance_key": key or new_id(), "rebalance_account": account_id,
        "rebalance_step_up": step_up, "rebalance_message": message,
        "rebalance_error": failed,
    }  # fmt: skip
    if with_proposal:
        panel["proposal"] = _proposal(platform, actor)
    return panel


@router.get("/rebalance/proposal")
def proposal(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    """The proposal alone, for HTMX to put in the panel; a plain request (no JavaScript) gets
    the whole page with it."""
    if request.headers.get("HX-Request") != "true":
        return RedirectResponse("/app/advisory?proposal=1#rebalancing", status_code=303)
    live = _profile(platform, actor)
    if live is None or live.expired:  # the page shows why; nothing to propose
        return render(request, "advisory/_proposal.html", {"proposal": None, "usd_accounts": []})
    return render(request, "advisory/_proposal.html", _rebalancing(platform, actor))


@router.post("/rebalance")
async def rebalance(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    """Accept the proposal. The key was made when the panel was shown, so a double submit
    places the trades once; a step-up sends the same key again after the code."""
    data = await request.form()
    key = str(data.get("key", "")).strip()
    account_id = str(data.get("account_id", "")).strip()
    code = str(data.get("code", "")).strip()
    if code:
        try:
            platform.identity.step_up.with_totp(actor, code)
        except FinbridgeError:
            panel = _rebalancing(platform, actor, step_up=True, key=key, account_id=account_id,
                                 message=gettext(request, _BAD_CODE))  # fmt: skip
            return _page(request, platform, actor, rebalancing=panel, status=403)
    try:
        orders = platform.advisory.accept_rebalance(
            actor, customer_id(actor), account_id=account_id,
            new_cash=Money.zero(CURRENCY), idempotency_key=key,
        )  # fmt: skip
    except StepUpRequired:
        panel = _rebalancing(platform, actor, step_up=True, key=key, account_id=account_id,
                             message=gettext(request, _STEP_UP))  # fmt: skip
        return _page(request, platform, actor, rebalancing=panel, status=403)
    except FinbridgeError as exc:
        # A refusal ends this request: the next attempt is a new one, with a new key.
        panel = _rebalancing(platform, actor, account_id=account_id, failed=exc)
        return _page(request, platform, actor, rebalancing=panel, status=422)
    done = gettext(request, _DONE) % {"num": len(orders)}
    panel = _rebalancing(platform, actor, message=done)
    return _page(request, platform, actor, rebalancing=panel)


@router.post("/rebalance/automatic")
async def automatic(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    data = await request.form()
    try:
        platform.advisory.choose_rebalancing(
            actor, customer_id(actor), account_id=str(data.get("account_id", "")).strip(),
            automatic=str(data.get("automatic", "")) == "on",
        )  # fmt: skip
    except FinbridgeError as exc:
        panel = _rebalancing(platform, actor, failed=exc)
        return _page(request, platform, actor, rebalancing=panel, status=422)
    return RedirectResponse("/app/advisory#rebalancing", status_code=303)
