"""``/v1/credit``: score applicants (consent, reasons, version), models, promotion, monitoring."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.services import identity_services
from finbridge.credit.registry import ModelRegistry, ModelVersion, registry_for
from finbridge.credit.vfl.online import PartnerShare, https_partner, score_joint_online
from finbridge.platform import Platform

router = APIRouter(prefix="/credit", tags=["credit"])


def _registry(platform: Platform) -> ModelRegistry:
    return registry_for(platform.state, platform.engine, platform.clock)


class ModelVersionPublic(BaseModel):
    model_name: str
    version: int
    kind: str
    status: str
    auc: float | None
    ks: float | None
    gini: float | None
    features: list[str]
    n_train: int
    data_fingerprint: str
    artifact_sha256: str
    trained_by: str
    created_at: datetime
    promoted_at: datetime | None
    report_url: str

    @classmethod
    def of(cls, v: ModelVersion) -> ModelVersionPublic:
        return cls(
            model_name=v.model_name,
            version=v.version,
            kind=v.kind,
            status=v.status,
            auc=v.metrics.get("auc"),
            ks=v.metrics.get("ks"),
            gini=v.metrics.get("gini"),
            features=v.features,
            n_train=v.n_train,
            data_fingerprint=v.data_fingerprint,
            artifact_sha256=v.artifact_sha256,
            trained_by=v.trained_by,
            created_at=v.created_at,
            promoted_at=v.promoted_at,
            report_url=f"/v1/credit/models/{v.model_name}/report?version={v.version}",
        )


class ScoreRequest(BaseModel):
    applicant: dict[str, Any] = Field(description="Feature values by column name")
    subject_id: str | None = Field(None, max_length=64, description="Customer id (consent)")
    version: int | None = Field(None, ge=1, description="Default: the live version")


class ReasonPublic(BaseModel):
    feature: str
    value: Any
    points: float
    points_lost: float


class ScorePublic(BaseModel):
    score_id: str
    model_name: str
    version: int
    score: float
    probability_bad: float
    band: str
    reasons: list[ReasonPublic]
    mode: str


class JointScoreRequest(BaseModel):
    model_name: str = Field("joint", max_length=80, description="A registered joint model")
    customer_key: str = Field(
        min_length=1, max_length=64, description="Join key (phone or ID number); hashed with "
        "the job's key before it is sent to the partner",
    )  # fmt: skip
    subject_id: str = Field(min_length=1, max_length=64, description="Customer id (consent)")
    applicant: dict[str, Any] = Field(description="The bank's feature values by column name")
    version: int | None = Field(None, ge=1, description="Default: the live version")


class JointScorePublic(ScorePublic):
    job_id: str
    partner_reachable: bool
    bank_only_fallback: bool = Field(
        description="True when the bank-only model answered (partner unreachable, customer "
        "unknown to the partner, or no partner link configured); ``note`` says which"
    )
    note: str | None


def _partner(platform: Platform) -> PartnerShare | None:
    """The partner link: set in ``platform.state["credit.partner_share"]`` (tests, embedding)
    or from the settings ``credit_partner_url`` + ``credit_certs`` (FINBRIDGE_CREDIT_*)."""
    share = platform.state.get("credit.partner_share")
    if share is None:
        settings = platform.settings
        share = https_partner(settings.credit_partner_url, settings.credit_certs)
        if share is not None:
            platform.state["credit.partner_share"] = share
    return share  # type: ignore[no-any-return]


class MonitoringRequest(BaseModel):
    applicants: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    version: int | None = Field(None, ge=1)


@router.get("/models", response_model=list[ModelVersionPublic], summary="Every model version")
def list_models(
    actor: PrincipalDep, platform: PlatformDep, name: str | None = None
) -> list[ModelVersionPublic]:
    return [ModelVersionPublic.of(v) for v in _registry(platform).list_versions(actor, name)]


@router.post(
    "/models/{name}/versions/{version}/promote",
    response_model=ModelVersionPublic,
    summary="Make a version live (one live version per model)",
)
def promote(name: str, version: int, actor: PrincipalDep, platform: PlatformDep
            ) -> ModelVersionPublic:  # fmt: skip
    return ModelVersionPublic.of(_registry(platform).promote(actor, name, version))


@router.post(
    "/models/{name}/score",
    response_model=ScorePublic,
    summary="Score one applicant: score, band, reasons and the model version used",
)
def score(name: str, body: ScoreRequest, actor: PrincipalDep, platform: PlatformDep
          ) -> ScorePublic:  # fmt: skip
    consents = identity_services(platform).consents
    decision = _registry(platform).score(
        actor, name, body.applicant, subject_id=body.subject_id, version=body.version,
        consent=consents.require_consent,
    )  # fmt: skip
    return ScorePublic(**asdict(decision))


@router.post(
    "/joint/score",
    response_model=JointScorePublic,
    summary="Joint (bank + partner) score of one applicant; bank-only fallback, said explicitly",
)
def joint_score(body: JointScoreRequest, actor: PrincipalDep, platform: PlatformDep
                ) -> JointScorePublic:  # fmt: skip
    consents = identity_services(platform).consents
    d = score_joint_online(
        _registry(platform), actor, body.model_name, body.customer_key, body.applicant,
        partner=_partner(platform), subject_id=body.subject_id, version=body.version,
        consent=consents.require_consent,
    )  # fmt: skip
    return JointScorePublic(
        **asdict(d.decision), job_id=d.job_id, partner_reachable=d.partner_reachable,
        bank_only_fallback=d.bank_only_fallback, note=d.note,
    )  # fmt: skip


@router.get("/models/{name}/report", response_class=HTMLResponse, summary="HTML model report")
def report(
    name: str, actor: PrincipalDep, platform: PlatformDep, version: int | None = Query(None, ge=1)
) -> HTMLResponse:
    return HTMLResponse(_registry(platform).report_html(actor, name, version))


@router.post("/models/{name}/monitoring", summary="PSI of score and features vs training")
def monitoring(
    name: str, body: MonitoringRequest, actor: PrincipalDep, platform: PlatformDep
) -> dict[str, Any]:
    current = pd.DataFrame(body.applicants)
    return _registry(platform).monitoring(actor, name, current, body.version)


@router.get("/scores", summary="Scores recorded for a customer, newest first")
def scores(subject_id: str, actor: PrincipalDep, platform: PlatformDep) -> list[dict[str, Any]]:
    return _registry(platform).scores_for(actor, subject_id)
