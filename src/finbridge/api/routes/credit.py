"""``/v1/credit``: score applicants (consent, reasons, version), models, training, promotion,
monitoring."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.core.errors import ValidationError
from finbridge.credit import ModelVersion, TrainingPolicy

router = APIRouter(prefix="/credit", tags=["credit"])


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
    warnings: list[str] = Field(default_factory=list, description="Stored with the model")
    data_decisions: list[str] = Field(
        default_factory=list, description="The data profile and what training did about it"
    )

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
            warnings=list(v.metrics.get("warnings") or []),
            data_decisions=list(v.metrics.get("decisions") or []),
        )


class ScoreRequest(BaseModel):
    applicant: dict[str, Any] = Field(description="Feature values by column name")
    customer_id: str = Field(
        min_length=1, max_length=64, description="The customer scored; their consent to "
        "credit scoring is required",
    )  # fmt: skip
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
    join_key: str = Field(
        min_length=1, max_length=64, description="Join key (phone or ID number); hashed with "
        "the job's key before it is sent to the partner",
    )  # fmt: skip
    customer_id: str = Field(
        min_length=1, max_length=64, description="The customer scored; their consent to "
        "credit scoring is required",
    )  # fmt: skip
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


# A table cell as JSON carries it: nested objects and arrays are no column value.
Cell = str | int | float | bool | None


class TrainRequest(BaseModel):
    rows: list[dict[str, Cell]] = Field(
        min_length=1, max_length=100_000,
        description="The training table, one object per row (column name -> value), the "
        "target column included",
    )  # fmt: skip
    policy: TrainingPolicy = Field(
        default_factory=TrainingPolicy,
        description="What `finbridge credit train` can be told (the keys of its YAML config); "
        "`target` is required, `name` is the path's",
    )
    promote: bool = Field(False, description="Make the new version live at once")


class MonitoringRequest(BaseModel):
    applicants: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    version: int | None = Field(None, ge=1)


@router.get("/models", response_model=list[ModelVersionPublic], summary="Every model version")
def list_models(
    actor: PrincipalDep, platform: PlatformDep, name: str | None = None
) -> list[ModelVersionPublic]:
    return [ModelVersionPublic.of(v) for v in platform.credit.list_versions(actor, name)]


@router.post(
    "/models/{name}/versions/{version}/promote",
    response_model=ModelVersionPublic,
    summary="Make a version live (one live version per model)",
)
def promote(name: str, version: int, actor: PrincipalDep, platform: PlatformDep
            ) -> ModelVersionPublic:  # fmt: skip
    return ModelVersionPublic.of(platform.credit.promote(actor, name, version))


@router.post(
    "/models/{name}/train",
    response_model=ModelVersionPublic,
    status_code=201,
    summary="Train and register a new version from rows: profile, policy, held-out evaluation",
)
def train(name: str, body: TrainRequest, actor: PrincipalDep, platform: PlatformDep
          ) -> ModelVersionPublic:  # fmt: skip
    if body.policy.name not in (None, name):
        raise ValidationError(
            f"policy.name {body.policy.name!r} is not the model in the path ({name!r})",
            field="policy.name",
        )
    version = platform.credit.train(
        actor, pd.DataFrame(body.rows), name=name, policy=body.policy, promote=body.promote,
        source=f"{len(body.rows):,} rows over the API",
    )  # fmt: skip
    return ModelVersionPublic.of(version)


@router.post(
    "/models/{name}/score",
    response_model=ScorePublic,
    summary="Score one applicant: score, band, reasons and the model version used",
)
def score(name: str, body: ScoreRequest, actor: PrincipalDep, platform: PlatformDep
          ) -> ScorePublic:  # fmt: skip
    decision = platform.credit.score(
        actor, name, body.applicant, customer_id=body.customer_id, version=body.version
    )
    return ScorePublic(**asdict(decision))


@router.post(
    "/joint/score",
    response_model=JointScorePublic,
    summary="Joint (bank + partner) score of one applicant; bank-only fallback, said explicitly",
)
def joint_score(body: JointScoreRequest, actor: PrincipalDep, platform: PlatformDep
                ) -> JointScorePublic:  # fmt: skip
    d = platform.credit.score_joint(
        actor, body.model_name, customer_id=body.customer_id, join_key=body.join_key,
        applicant=body.applicant, version=body.version,
    )  # fmt: skip
    return JointScorePublic(
        **asdict(d.decision), job_id=d.job_id, partner_reachable=d.partner_reachable,
        bank_only_fallback=d.bank_only_fallback, note=d.note,
    )  # fmt: skip


@router.get("/models/{name}/report", response_class=HTMLResponse, summary="HTML model report")
def report(
    name: str, actor: PrincipalDep, platform: PlatformDep, version: int | None = Query(None, ge=1)
) -> HTMLResponse:
    return HTMLResponse(platform.credit.report_html(actor, name, version))


@router.post("/models/{name}/monitoring", summary="PSI of score and features vs training")
def monitoring(
    name: str, body: MonitoringRequest, actor: PrincipalDep, platform: PlatformDep
) -> dict[str, Any]:
    current = pd.DataFrame(body.applicants)
    return platform.credit.monitoring(actor, name, current, body.version)


@router.get("/scores", summary="Scores recorded for a customer, newest first")
def scores(customer_id: str, actor: PrincipalDep, platform: PlatformDep) -> list[dict[str, Any]]:
    return platform.credit.scores_for(actor, customer_id)
