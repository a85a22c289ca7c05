"""Risk control over HTTP: decisions, rule sets (draft, validate, backtest, shadow, promote),
lists and review cases. Thin: parse, call one risk service with the caller's principal, render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.hot import json_object
from finbridge.core.principal import Principal
from finbridge.platform import Platform
from finbridge.risk.backtest import backtest_stored
from finbridge.risk.cases import CaseService
from finbridge.risk.engine import RiskEngine
from finbridge.risk.registry import (
    list_registered,
    load_registered,
    registry_dir,
    start_shadow_model,
    stop_shadow_model,
)
from finbridge.risk.requests import DecisionRequestModel
from finbridge.risk.rules import RuleSetSpec
from finbridge.risk.setup import STATE_KEY, risk_engine_for
from finbridge.risk.shadow import compare_shadow

router = APIRouter(prefix="/risk", tags=["risk"])


def risk_engine(platform: Platform) -> RiskEngine:
    return risk_engine_for(platform.state, platform.engine, platform.clock, platform.settings)


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    expression: str = Field(max_length=2000)
    weight: float = 0
    reason: str = Field(default="", max_length=300)
    event_types: list[str] = []
    action: Literal["approve", "review", "step_up", "decline"] | None = None


class BandBody(BaseModel):
    min_score: float
    outcome: Literal["approve", "review", "step_up", "decline"]


class RuleSetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=2000)
    rules: list[RuleBody] = Field(max_length=500)
    bands: list[BandBody] = []

    def spec(self) -> RuleSetSpec:
        return RuleSetSpec.from_json(self.model_dump())


class ListEntryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    list_kind: Literal["block", "allow", "watch"]
    entity_type: str
    value: str
    reason: str
    source: str
    expires_at: AwareDatetime | None = None


class NoteBody(BaseModel):
    body: str = Field(max_length=4000)


class CloseBody(BaseModel):
    resolution: Literal["confirm", "release"]
    note: str = Field(default="", max_length=4000)


class AssignBody(BaseModel):
    assignee: str | None = None


def _stored(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "version": s.version,
        "label": s.label,
        "status": s.status,
        "created_by": s.created_by,
        "created_at": s.created_at,
        "promoted_by": s.promoted_by,
        "promoted_at": s.promoted_at,
        "body": s.spec.to_json(),
    }


# -- decisions ---------------------------------------------------------------------------------
async def decide_json(platform: Platform, actor: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """One decision, as JSON: shared by the route below and its hot path (``api.hot``).

    async: the decision is in-memory computation and only the commit is awaited, so no
    worker-thread hop; the body is checked by the engine's own parser so every error names
    the plain field."""
    engine: RiskEngine | None = platform.state.get(STATE_KEY)
    if engine is None:  # the first call loads the model and rule sets: not on the event loop
        engine = await run_in_threadpool(risk_engine, platform)
    return (await engine.decide_async(actor, data)).to_json()


@router.post(
    "/decisions",
    summary="Decide on one event (login, payment, transfer, ...)",
    description="Served by a hot path (finbridge.api.hot) for recently verified API keys.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DecisionRequestModel.model_json_schema()}},
        }
    },
)
async def decide(actor: PrincipalDep, platform: PlatformDep, request: Request) -> JSONResponse:
    data = json_object(await request.body())
    return JSONResponse(await decide_json(platform, actor, data))


HOT_PATHS = {("POST", "/risk/decisions"): decide_json}


@router.get("/decisions/shadow-comparison", summary="Live vs shadow decisions, side by side")
def shadow_comparison(
    actor: PrincipalDep, platform: PlatformDep, since: datetime | None = None
) -> dict:  # type: ignore[type-arg]
    return compare_shadow(platform.engine, actor, since=since).to_json()


# -- rule sets ---------------------------------------------------------------------------------
@router.get("/rule-sets", summary="Every stored rule-set version")
def list_rule_sets(actor: PrincipalDep, platform: PlatformDep) -> list[dict]:  # type: ignore[type-arg]
    return [_stored(s) for s in risk_engine(platform).rule_sets.list(actor)]


@router.post("/rule-sets/validate", summary="Check a draft without saving it")
def validate_rule_set(body: RuleSetBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    actor.require_scope("risk:read")
    problems = risk_engine(platform).rule_sets.check(body.spec())
    return {
        "valid": not problems,
        "problems": [{"field": p.field, "message": p.message} for p in problems],
    }


@router.post("/rule-sets", status_code=status.HTTP_201_CREATED, summary="Save a validated draft")
def save_rule_set(body: RuleSetBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _stored(risk_engine(platform).rule_sets.save_draft(actor, body.spec()))


@router.get("/rule-sets/{set_id}")
def get_rule_set(set_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _stored(risk_engine(platform).rule_sets.get(actor, set_id))


@router.post("/rule-sets/{set_id}/backtest", summary="Replay history: live vs this draft")
def backtest(
    set_id: str, actor: PrincipalDep, platform: PlatformDep, since: datetime | None = None
) -> dict:  # type: ignore[type-arg]
    return backtest_stored(risk_engine(platform), actor, set_id, since=since)


@router.post("/rule-sets/{set_id}/shadow", summary="Run this version beside live, not enforced")
def shadow(set_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    engine = risk_engine(platform)
    stored = engine.rule_sets.promote(actor, set_id, mode="shadow")
    engine.refresh_rules(force=True)
    return _stored(stored)


@router.post("/rule-sets/{set_id}/promote", summary="Make this version live (audited)")
def promote(set_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    engine = risk_engine(platform)
    stored = engine.rule_sets.promote(actor, set_id, mode="live")
    engine.refresh_rules(force=True)
    return _stored(stored)


# -- models -----------------------------------------------------------------------------------
@router.get("/models", summary="The live model and the shadow (candidate) model, if any")
def models(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    actor.require_scope("risk:read")
    engine = risk_engine(platform)
    return {
        "live": engine.model.version if engine.model else None,
        "shadow": engine.shadow_model.version if engine.shadow_model else None,
    }


@router.post("/models/promote-shadow", summary="Make the shadow model live (audited, no restart)")
def promote_model(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    return {"live": risk_engine(platform).promote_shadow_model(actor)}


class ShadowModelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=200)


@router.get("/models/registered", summary="Models in the registry directory, newest first")
def registered_models(actor: PrincipalDep, platform: PlatformDep) -> list[dict[str, Any]]:
    actor.require_scope("risk:read")
    directory = registry_dir(platform.settings.data_dir)
    return [m.to_json() for m in list_registered(directory)]


@router.post("/models/shadow", summary="Score a registered model beside the live one (audited)")
def set_shadow_model(
    body: ShadowModelBody, actor: PrincipalDep, platform: PlatformDep
) -> dict[str, Any]:
    actor.require_scope("risk:write")  # before the file system is consulted at all
    model = load_registered(registry_dir(platform.settings.data_dir), body.version)
    engine = risk_engine(platform)
    previous = start_shadow_model(engine, actor, model)
    live = engine.model.version if engine.model else None
    return {"live": live, "shadow": model.version, "replaced": previous}


@router.delete("/models/shadow", summary="Stop the shadow model (audited)")
def stop_shadow(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    engine = risk_engine(platform)
    stopped = stop_shadow_model(engine, actor)
    live = engine.model.version if engine.model else None
    return {"live": live, "shadow": None, "stopped": stopped}


# -- lists -------------------------------------------------------------------------------------
@router.get("/lists")
def lists(actor: PrincipalDep, platform: PlatformDep, include_expired: bool = False) -> list[dict]:  # type: ignore[type-arg]
    entries = risk_engine(platform).lists.entries(actor, include_expired=include_expired)
    return [_entry(e) for e in entries]


def _entry(e: Any) -> dict[str, Any]:
    return {name: getattr(e, name) for name in e.__slots__}


@router.post("/lists", status_code=status.HTTP_201_CREATED)
def add_list_entry(body: ListEntryBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    entry = risk_engine(platform).lists.add(actor, **body.model_dump())
    return _entry(entry)


@router.delete("/lists/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_list_entry(entry_id: str, actor: PrincipalDep, platform: PlatformDep) -> None:
    risk_engine(platform).lists.remove(actor, entry_id)


# -- cases -------------------------------------------------------------------------------------
def _cases(platform: Platform) -> CaseService:
    return CaseService(platform.engine, platform.clock)


def _case(c: Any) -> dict[str, Any]:
    out = {name: getattr(c, name) for name in c.__slots__ if name != "notes"}
    out["notes"] = [
        {"author": n.author, "body": n.body, "created_at": n.created_at} for n in c.notes
    ]
    return out


@router.get("/cases", summary="The review queue, most urgent first")
def cases(
    actor: PrincipalDep,
    platform: PlatformDep,
    status_: str = Query("active", alias="status"),
    limit: int = Query(100, ge=1, le=500),
) -> list[dict]:  # type: ignore[type-arg]
    return [_case(c) for c in _cases(platform).queue(actor, status=status_, limit=limit)]


@router.get("/cases/{case_id}")
def get_case(case_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(_cases(platform).get(actor, case_id))


@router.post("/cases/{case_id}/assign")
def assign_case(case_id: str, body: AssignBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(_cases(platform).assign(actor, case_id, body.assignee))


@router.post("/cases/{case_id}/notes")
def note_case(case_id: str, body: NoteBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(_cases(platform).note(actor, case_id, body.body))


@router.post("/cases/{case_id}/close", summary="Decide the case; emits the risk.label event")
def close_case(case_id: str, body: CloseBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(_cases(platform).close(actor, case_id, body.resolution, body.note))
