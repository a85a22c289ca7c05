"""Model monitoring and the learning loop over HTTP: the stored daily runs, running a day's
monitors, one retraining turn of the fraud model, rolling a promotion back. Thin: parse, call
one platform job or service with the caller's principal (scopes checked there), render."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.platform import monitor_store, retrain_fraud_model, run_monitors

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: date
    engines: list[Literal["risk", "credit"]] = Field(default=["risk", "credit"], min_length=1)


class RetrainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: AwareDatetime | None = None
    margin: float | None = Field(default=None, ge=0, le=1)
    # data: the configured labelled file; decisions: this platform's own live decisions.
    source: Literal["data", "decisions"] = "data"


@router.get("/runs", summary="Stored monitor runs of one engine's models, oldest day first")
def runs(
    actor: PrincipalDep,
    platform: PlatformDep,
    engine: Literal["risk", "credit"] = "risk",
    since: date | None = Query(default=None),
) -> list[dict[str, Any]]:
    found = monitor_store(platform).history(actor, engine=engine, since=since)
    return [r.to_json() for r in found]


@router.post("/runs", summary="Run a day's monitors (PSI, label-delayed AUC/AP/KS, alerts)")
def run(body: RunBody, actor: PrincipalDep, platform: PlatformDep) -> list[dict[str, Any]]:
    done = run_monitors(platform, actor, body.day, engines=tuple(body.engines))
    return [r.to_json() for r in done]


@router.post("/risk/retrain", summary="One turn of the fraud model's learning loop (audited)")
def retrain(body: RetrainBody, actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    return retrain_fraud_model(
        platform, actor, as_of=body.as_of, margin=body.margin, source=body.source
    ).to_json()


@router.post("/risk/rollback", summary="Undo the last model promotion in one step (audited)")
def rollback(actor: PrincipalDep, platform: PlatformDep) -> dict[str, Any]:
    return {"live": platform.risk.rollback_model(actor)}
