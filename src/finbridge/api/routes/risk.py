"""Risk control over HTTP: decisions, rule sets (draft, validate, backtest, shadow, promote),
lists and review cases. Thin: parse, call one risk service with the caller's principal, render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.core.errors import NotFound
from finbridge.risk import DecisionRequestModel, RuleSetSpec, json_body

router = APIRouter(prefix="/risk", tags=["risk"])


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
@router.post(
    "/decisions",
    summary="Decide on one event (login, payment, transfer, ...)",
    description="The same decision the decision gateway (finbridge.gateway) answers at volume.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DecisionRequestModel.model_json_schema()}},
        }
    },
)
async def decide(actor: PrincipalDep, platform: PlatformDep, request: Request) -> JSONResponse:
    # The body is checked by the engine's own parser, so every error names the plain field.
    data = json_body(await request.body())
    return JSONResponse((await platform.risk.decide_async(actor, data)).to_json())


@router.get("/decisions/shadow-comparison", summary="Live vs shadow decisions, side by side")
def shadow_comparison(
    actor: PrincipalDep, platform: PlatformDep, since: datetime | None = None
) -> dict:  # type: ignore[type-arg]
    return platform.risk.shadow_comparison(actor, since=since).to_json()


@router.get("/decisions/{event_id}", summary="The stored decision on one event")
def get_decision(event_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    decision = platform.risk.decision(actor, event_id)
    if decision is None:
        raise NotFound(f"no decision on event {event_id}", field="event_id")
    return decision.to_json()


# -- rule sets ---------------------------------------------------------------------------------
@router.get("/rule-sets", summary="Every stored rule-set version")
def list_rule_sets(actor: PrincipalDep, platform: PlatformDep) -> list[dict]:  # type: ignore[type-arg]
    return [_stored(s) for s in platform.risk.rule_sets.list(actor)]


@router.post("/rule-sets/validate", summary="Check a draft without saving it")
def validate_rule_set(body: RuleSetBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    actor.require_scope("risk:read")
    problems = platform.risk.rule_sets.check(body.spec())
    return {
        "valid": not problems,
        "problems": [{"field": p.field, "message": p.message} for p in problems],
    }


@router.post("/rule-sets", status_code=status.HTTP_201_CREATED, summary="Save a validated draft")
def save_rule_set(body: RuleSetBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _stored(platform.risk.rule_sets.save_draft(actor, body.spec()))


@router.get("/rule-sets/{set_id}")
def get_rule_set(set_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _stored(platform.risk.rule_sets.get(actor, set_id))


@router.post("/rule-sets/{set_id}/backtest", summary="Replay history: live vs this draft")
def backtest(
    set_id: str, actor: PrincipalDep, platform: PlatformDep, since: datetime | None = None
) -> dict:  # type: ignore[type-arg]
    return platform.risk.backtest(actor, set_id, since=since)


@router.post("/rule-sets/{set_id}/shadow", summary="Run this version beside live, not enforced")
def shadow(set_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _stored(platform.risk.promote_rule_set(actor, set_id, mode="shadow"))


@router.post("/rule-sets/{set_id}/promote", summary="Make this version live (audited)")
def promote(set_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _stored(platform.risk.promote_rule_set(actor, set_id, mode="live"))


# -- models -----------------------------------------------------------------------------------
@router.get("/models", summary="The live model and the shadow (candidate) model, if any")
def models(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    return platform.risk.models(actor)


@router.post("/models/promote-shadow", summary="Make the shadow model live (audited, no restart)")
def promote_model(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    return {"live": platform.risk.promote_shadow_model(actor)}


class ShadowModelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=200)


@router.get("/models/registered", summary="Models in the registry directory, newest first")
def registered_models(actor: PrincipalDep, platform: PlatformDep) -> list[dict[str, Any]]:
    return [m.to_json() for m in platform.risk.registered_models(actor)]


@router.post("/models/shadow", summary="Score a registered model beside the live one (audited)")
def set_shadow_model(
    body: ShadowModelBody, actor: PrincipalDep, platform: PlatformDep
) -> dict[str, Any]:
    risk = platform.risk
    previous = risk.start_shadow_model(actor, body.version)
    return {**risk.models(actor), "replaced": previous}


@router.delete("/models/shadow", summary="Stop the shadow model (audited)")
def stop_shadow(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    risk = platform.risk
    stopped = risk.stop_shadow_model(actor)
    return {**risk.models(actor), "stopped": stopped}


# -- lists -------------------------------------------------------------------------------------
@router.get("/lists")
def lists(actor: PrincipalDep, platform: PlatformDep, include_expired: bool = False) -> list[dict]:  # type: ignore[type-arg]
    entries = platform.risk.lists.entries(actor, include_expired=include_expired)
    return [_entry(e) for e in entries]


def _entry(e: Any) -> dict[str, Any]:
    return {name: getattr(e, name) for name in e.__slots__}


@router.post("/lists", status_code=status.HTTP_201_CREATED)
def add_list_entry(body: ListEntryBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    entry = platform.risk.lists.add(actor, **body.model_dump())
    return _entry(entry)


@router.delete("/lists/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_list_entry(entry_id: str, actor: PrincipalDep, platform: PlatformDep) -> None:
    platform.risk.lists.remove(actor, entry_id)


# -- cases -------------------------------------------------------------------------------------
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
    return [_case(c) for c in platform.risk.cases.queue(actor, status=status_, limit=limit)]


@router.get("/cases/{case_id}")
def get_case(case_id: str, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(platform.risk.cases.get(actor, case_id))


@router.post("/cases/{case_id}/assign")
def assign_case(case_id: str, body: AssignBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(platform.risk.cases.assign(actor, case_id, body.assignee))


@router.post("/cases/{case_id}/notes")
def note_case(case_id: str, body: NoteBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(platform.risk.cases.note(actor, case_id, body.body))


@router.post("/cases/{case_id}/close", summary="Decide the case; emits the risk.label event")
def close_case(case_id: str, body: CloseBody, actor: PrincipalDep, platform: PlatformDep) -> dict:  # type: ignore[type-arg]
    return _case(platform.risk.cases.close(actor, case_id, body.resolution, body.note))
