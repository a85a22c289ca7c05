"""Model registry and score service: versioned artifacts, promotion, every score on record.

Artifacts are pickled estimators stored in the database with their sha256; loading verifies the
hash before unpickling, so a row altered outside the registry is refused rather than executed.
Promotion flips the live flag in one transaction and a partial unique index guarantees there is
never more than one live version per model name.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.credit import events as _events  # noqa: F401 - registers event schemas
from finbridge.credit.data import fingerprint
from finbridge.credit.monitoring import stability
from finbridge.credit.report import render_html
from finbridge.credit.tables import ModelVersionRow, ScoreRow
from finbridge.lake import Event, emit
from finbridge.store.engine import unit_of_work

# (customer id, purpose) -> None, raising when the customer has not consented.
ConsentCheck = Callable[[str, str], None]
SCORING_PURPOSE = "credit_scoring"
_MAX_VERSION = 2**31 - 1  # the versions column is a 32-bit INTEGER


def check_customer(actor: Principal, customer_id: str, consent: ConsentCheck) -> None:
    """The actor may act for this customer, and the customer consented to credit scoring."""
    if not customer_id or not customer_id.strip():
        raise ValidationError("the customer's id is required to score them", field="customer_id")
    if not actor.can_act_for(customer_id):
        raise NotFound("no such customer", field="customer_id")
    consent(customer_id, SCORING_PURPOSE)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    id: str
    model_name: str
    version: int
    kind: str
    status: str
    artifact_sha256: str
    data_fingerprint: str
    n_train: int
    metrics: dict[str, Any]
    features: list[str]
    params: dict[str, Any]
    trained_by: str
    created_at: datetime
    promoted_at: datetime | None

    @classmethod
    def of(cls, row: ModelVersionRow) -> ModelVersion:
        return cls(
            id=row.id,
            model_name=row.model_name,
            version=row.version,
            kind=row.kind,
            status=row.status,
            artifact_sha256=row.artifact_sha256,
            data_fingerprint=row.data_fingerprint,
            n_train=row.n_train,
            metrics=dict(row.metrics),
            features=list(row.features),
            params=dict(row.params),
            trained_by=row.trained_by,
            created_at=row.created_at,
            promoted_at=row.promoted_at,
        )


@dataclass(frozen=True, slots=True)
class ScoreDecision:
    score_id: str
    model_name: str
    version: int
    score: float
    probability_bad: float
    band: str
    reasons: list[dict[str, Any]]
    mode: str


def _kind(model: Any) -> str:
    return str(getattr(model, "registry_kind", type(model).__name__.lower()))


class ModelRegistry:
    """Register, list, promote and load credit models; score applicants with the live one."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._cache: dict[str, Any] = {}

    @property
    def engine(self) -> Engine:
        """The database the registry and its score records live in (read by the monitor)."""
        return self._engine

    def register(
        self,
        actor: Principal,
        name: str,
        model: Any,
        *,
        X_train: pd.DataFrame,
        y_train: Any,
        metrics: dict[str, Any],
        params: dict[str, Any] | None = None,
    ) -> ModelVersion:
        actor.require_scope("credit:write")
        _check_name(name)
        if not hasattr(model, "explain") or not hasattr(model, "features_"):
            raise ValidationError("model must be a fitted credit estimator", field="model")
        return self._insert(
            actor, name, model,
            data_fingerprint=fingerprint(X_train, np.asarray(y_train)), n_train=len(X_train),
            metrics=metrics, params=params if params is not None else _params(model),
        )  # fmt: skip

    def register_joint(
        self,
        actor: Principal,
        name: str,
        model: Any,
        *,
        data_fingerprint: str,
        n_train: int,
        metrics: dict[str, Any],
        params: dict[str, Any],
    ) -> ModelVersion:
        """Register the bank's half of a joint model (its training data stays with the job)."""
        actor.require_scope("credit:write")
        _check_name(name)
        if not hasattr(model, "features_") or not str(_kind(model)).startswith("joint_"):
            raise ValidationError("model must be the bank's half of a joint model", field="model")
        return self._insert(actor, name, model, data_fingerprint=data_fingerprint,
                            n_train=n_train, metrics=metrics, params=params)  # fmt: skip

    def _insert(
        self,
        actor: Principal,
        name: str,
        model: Any,
        *,
        data_fingerprint: str,
        n_train: int,
        metrics: dict[str, Any],
        params: dict[str, Any],
    ) -> ModelVersion:
        blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(blob).hexdigest()
        now = self._clock.now()
        with unit_of_work(self._engine) as s:
            latest = s.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_name == name)
            )
            row = ModelVersionRow(
                id=new_id(),
                model_name=name,
                version=(latest or 0) + 1,
                kind=_kind(model),
                status="candidate",
                is_live=False,
                artifact=blob,
                artifact_sha256=digest,
                data_fingerprint=data_fingerprint,
                n_train=n_train,
                metrics=_jsonable(metrics),
                features=list(model.features_),
                params=_jsonable(params),
                trained_by=actor.display or actor.id,
                created_at=now,
                promoted_at=None,
            )
            s.add(row)
            s.flush()
            emit(
                s,
                Event(
                    "credit.model_registered",
                    now,
                    {
                        "model_name": name,
                        "version": row.version,
                        "kind": row.kind,
                        "artifact_sha256": digest,
                        "data_fingerprint": row.data_fingerprint,
                        "trained_by": row.trained_by,
                    },
                    source="credit",
                ),
            )
            return ModelVersion.of(row)

    def list_versions(self, actor: Principal, name: str | None = None) -> list[ModelVersion]:
        actor.require_scope("credit:read")
        with unit_of_work(self._engine, write=False) as s:
            q = select(ModelVersionRow).order_by(
                ModelVersionRow.model_name, ModelVersionRow.version.desc()
            )
            if name:
                q = q.where(ModelVersionRow.model_name == name)
            return [ModelVersion.of(r) for r in s.scalars(q)]

    def get(self, actor: Principal, name: str, version: int | None = None) -> ModelVersion:
        actor.require_scope("credit:read")
        with unit_of_work(self._engine, write=False) as s:
            return ModelVersion.of(self._row(s, name, version))

    def _row(self, s: Any, name: str, version: int | None) -> ModelVersionRow:
        if version is not None and not 1 <= version <= _MAX_VERSION:
            # No such row can exist, and PostgreSQL refuses to compare an INTEGER column with
            # a number past its range (a 500 instead of a 404).
            raise NotFound(f"model {name!r} has no version {version}", field="version")
        q = select(ModelVersionRow).where(ModelVersionRow.model_name == name)
        q = (
            q.where(ModelVersionRow.is_live)
            if version is None
            else q.where(ModelVersionRow.version == version)
        )
        row = s.scalar(q)
        if row is None:
            what = "a live version" if version is None else f"version {version}"
            raise NotFound(f"model {name!r} has no {what}", field="version")
        return row  # type: ignore[no-any-return]

    def promote(self, actor: Principal, name: str, version: int) -> ModelVersion:
        """Make ``version`` the live one; the previous live version is retired atomically."""
        actor.require_scope("credit:write")
        now = self._clock.now()
        try:
            with unit_of_work(self._engine) as s:
                target = self._row(s, name, version)
                previous = s.scalar(
                    select(ModelVersionRow.version)
                    .where(ModelVersionRow.model_name == name, ModelVersionRow.is_live)
                    .with_for_update()
                )
                s.execute(
                    update(ModelVersionRow)
                    .where(ModelVersionRow.model_name == name, ModelVersionRow.is_live)
                    .values(is_live=False, status="retired")
                )
                s.flush()
                target.is_live = True
                target.status = "live"
                target.promoted_at = now
                s.flush()
                emit(
                    s,
                    Event(
                        "credit.model_promoted",
                        now,
                        {
                            "model_name": name,
                            "version": version,
                            "previous_version": previous,
                            "promoted_by": actor.display or actor.id,
                        },
                        source="credit",
                    ),
                )
                return ModelVersion.of(target)
        except IntegrityError as exc:  # a concurrent promotion won the race
            raise Conflict(f"model {name!r} was promoted concurrently; retry") from exc

    def load(self, name: str, version: int | None = None) -> tuple[ModelVersion, Any]:
        """The estimator of a version (live by default), integrity-checked before unpickling."""
        with unit_of_work(self._engine, write=False) as s:
            row = self._row(s, name, version)
            meta = ModelVersion.of(row)
            if meta.id in self._cache:
                return meta, self._cache[meta.id]
            blob = bytes(row.artifact)
        if hashlib.sha256(blob).hexdigest() != meta.artifact_sha256:
            raise Conflict(
                f"artifact of {name} v{meta.version} fails its sha256 check; refusing to load"
            )
        model = pickle.loads(blob)  # noqa: S301 - written by register(), hash verified above
        self._cache[meta.id] = model
        return meta, model

    def score(
        self,
        actor: Principal,
        name: str,
        applicant: dict[str, Any] | pd.DataFrame,
        *,
        customer_id: str,
        consent: ConsentCheck,
        version: int | None = None,
    ) -> ScoreDecision:
        """Score one customer with the live (or named) version and record the decision.

        The customer and their consent are required: there is no way to score a person
        without both (the consent check raises when the customer has not agreed).
        """
        actor.require_scope("credit:score")
        check_customer(actor, customer_id, consent)
        meta, model = self.load(name, version)
        if meta.kind.startswith("joint_"):
            raise ValidationError(
                f"{name} is a joint model: score it with POST /v1/credit/joint/score", field="name"
            )
        frame = applicant if isinstance(applicant, pd.DataFrame) else pd.DataFrame([applicant])
        if len(frame) != 1:
            raise ValidationError("score one applicant at a time", field="applicant")
        result = model.explain(frame)[0].as_dict()
        return self.record(actor, meta, result, customer_id=customer_id, mode="single")

    def record(
        self,
        actor: Principal,
        meta: ModelVersion,
        result: dict[str, Any],
        *,
        customer_id: str,
        mode: str,
    ) -> ScoreDecision:
        now = self._clock.now()
        decision = ScoreDecision(
            score_id=new_id(),
            model_name=meta.model_name,
            version=meta.version,
            score=float(result["score"]),
            probability_bad=float(result["probability_bad"]),
            band=str(result["band"]),
            reasons=list(result["reasons"]),
            mode=mode,
        )
        with unit_of_work(self._engine) as s:
            s.add(
                ScoreRow(
                    id=decision.score_id,
                    model_version_id=meta.id,
                    model_name=meta.model_name,
                    version=meta.version,
                    customer_id=customer_id,
                    score=decision.score,
                    probability_bad=decision.probability_bad,
                    band=decision.band,
                    reasons=_jsonable(decision.reasons),
                    mode=mode,
                    decided_by=actor.display or actor.id,
                    created_at=now,
                )
            )
            emit(
                s,
                Event(
                    "credit.scored",
                    now,
                    {
                        "score_id": decision.score_id,
                        "model_name": meta.model_name,
                        "version": meta.version,
                        "score": decision.score,
                        "band": decision.band,
                        "mode": mode,
                    },
                    source="credit",
                    subject_id=customer_id,
                ),
            )
        return decision

    def monitoring(
        self, actor: Principal, name: str, current: pd.DataFrame, version: int | None = None
    ) -> dict[str, Any]:
        """PSI of the score and each feature of ``current`` applicants against training."""
        actor.require_scope("credit:read")
        meta, model = self.load(name, version)
        return {"model_name": name, "version": meta.version, **stability(model, current).as_dict()}

    def report_html(
        self,
        actor: Principal,
        name: str,
        version: int | None = None,
        current: pd.DataFrame | None = None,
    ) -> str:
        """The self-contained HTML report of a version (live by default)."""
        actor.require_scope("credit:read")
        meta = self.get(actor, name, version)
        evaluation = meta.metrics.get("evaluation")
        if not evaluation:
            raise NotFound(f"{name} v{meta.version} has no stored evaluation", field="version")
        drift = None
        if current is not None:
            drift = self.monitoring(actor, name, current, meta.version)
        info = {
            "model": name,
            "version": meta.version,
            "kind": meta.kind,
            "status": meta.status,
            "trained_by": meta.trained_by,
            "trained_at": meta.created_at.isoformat(),
            "training rows": meta.n_train,
            "data fingerprint (sha256)": meta.data_fingerprint,
            "artifact sha256": meta.artifact_sha256,
            "features": ", ".join(meta.features),
        }
        if meta.metrics.get("seed") is not None:
            info["seed"] = meta.metrics["seed"]
        if meta.metrics.get("source"):
            info["data file"] = meta.metrics["source"]
        return render_html(
            f"Credit model {name} v{meta.version}", info, evaluation, drift,
            decisions=meta.metrics.get("decisions"), warnings=meta.metrics.get("warnings"),
        )  # fmt: skip

    def scores_for(self, actor: Principal, customer_id: str) -> list[dict[str, Any]]:
        actor.require_scope("credit:read")
        if not actor.can_act_for(customer_id):
            raise NotFound("no such customer", field="customer_id")
        with unit_of_work(self._engine, write=False) as s:
            rows = s.scalars(
                select(ScoreRow)
                .where(ScoreRow.customer_id == customer_id)
                .order_by(ScoreRow.created_at.desc())
            )
            return [
                {
                    "score_id": r.id,
                    "model_name": r.model_name,
                    "version": r.version,
                    "score": r.score,
                    "band": r.band,
                    "reasons": r.reasons,
                    "mode": r.mode,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ]


def _check_name(name: str) -> None:
    if not name or len(name) > 80 or not name.replace("-", "").replace("_", "").isalnum():
        raise ValidationError("model name must be 1-80 letters, digits, - or _", field="name")


def _params(model: Any) -> dict[str, Any]:
    get = getattr(model, "get_params", None)
    return dict(get(deep=False)) if callable(get) else {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
