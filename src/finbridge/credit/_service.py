"""The credit engine's face for interfaces: models, scoring with consent, joint scoring.

Interfaces (API, console, CLI) reach credit only through :class:`CreditService`, which the
platform builds once. Scoring a customer always needs the customer's id and their consent to
credit scoring; the consent records live in identity, reached through :class:`ConsentPort`
(identity's consent service satisfies it structurally, so credit never imports identity).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.principal import Principal
from finbridge.core.settings import CreditSettings, Settings
from finbridge.credit.policy import TrainingPolicy
from finbridge.credit.registry import ModelRegistry, ModelVersion, ScoreDecision
from finbridge.credit.vfl.online import JointDecision, PartnerShare, https_partner

if TYPE_CHECKING:
    import pandas as pd

    from finbridge.credit.profile import DataProfile
    from finbridge.credit.vfl.data import PartyData
    from finbridge.credit.vfl.service import PartyService
    from finbridge.lake.featurestore import FeatureStore
    from finbridge.lake.monitoring import MonitorRun, MonitorStore, Thresholds


class ConsentPort(Protocol):
    """Raises (``ConsentRequired``, a 403) unless the customer consented to ``purpose``."""

    def require_consent(self, customer_id: str, purpose: str, data: str | None = None) -> None:
        """Raise unless ``customer_id`` has an active consent for ``purpose``."""
        ...


class CreditService:
    """Model registry, scoring, joint scoring and the partner link, for one platform."""

    def __init__(
        self,
        registry: ModelRegistry,
        consent: ConsentPort,
        *,
        settings: CreditSettings | None = None,
        partner: PartnerShare | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.registry = registry
        self._consent = consent
        self._settings = settings or CreditSettings()
        self._partner = partner
        self._partner_built = partner is not None
        self._data_dir = data_dir
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        consent: ConsentPort,
        partner: PartnerShare | None = None,
    ) -> CreditService:
        """The platform's credit face; ``partner`` replaces the link built from settings
        (``settings.credit.partner_url`` + ``certs``), e.g. an in-process partner in tests."""
        return cls(
            ModelRegistry(engine, clock),
            consent,
            settings=settings.credit,
            partner=partner,
            data_dir=settings.data_dir,
        )

    @property
    def settings(self) -> CreditSettings:
        return self._settings

    def partner(self) -> PartnerShare | None:
        """The link to the partner's party endpoint, built on first use (None: bank-only)."""
        if not self._partner_built:
            with self._lock:
                if not self._partner_built:
                    s = self._settings
                    self._partner = https_partner(s.partner_url, s.certs)
                    self._partner_built = True
        return self._partner

    def use_partner(self, partner: PartnerShare | None) -> None:
        """Replace the partner link (an in-process partner, a stub in tests); None: bank-only."""
        with self._lock:
            self._partner, self._partner_built = partner, True

    # -- models ------------------------------------------------------------------------

    def list_versions(self, actor: Principal, name: str | None = None) -> list[ModelVersion]:
        return self.registry.list_versions(actor, name)

    def get(self, actor: Principal, name: str, version: int | None = None) -> ModelVersion:
        return self.registry.get(actor, name, version)

    def promote(self, actor: Principal, name: str, version: int) -> ModelVersion:
        return self.registry.promote(actor, name, version)

    def train(
        self,
        actor: Principal,
        frame: pd.DataFrame,
        *,
        name: str,
        target: str | None = None,
        kind: str | None = None,
        drop_columns: tuple[str, ...] = (),
        holdout: float | None = None,
        promote: bool = False,
        policy: TrainingPolicy | None = None,
        source: str | None = None,
    ) -> ModelVersion:
        """Profile any table with a binary target, apply the training ``policy`` (defaults:
        unusable columns dropped, text numbers coerced, unseen categories as missing, too
        little data refused), evaluate on a held-out split and register a new version (live
        when ``promote``). Arguments given here override the policy's. Nothing is registered
        on failure."""
        from finbridge.credit.training import train_and_register  # loads scikit-learn

        base = policy or TrainingPolicy()
        merged = base.merged(
            target=target, kind=kind, holdout=holdout,
            drop=tuple(dict.fromkeys([*base.drop, *drop_columns])),
        )  # fmt: skip
        version = train_and_register(
            self.registry, actor, frame, policy=merged, name=name, source=source
        )
        return self.promote(actor, name, version.version) if promote else version

    def train_from_features(
        self,
        actor: Principal,
        store: FeatureStore,
        labels: pd.DataFrame,
        *,
        name: str,
        target: str,
        view: str = "credit_profile",
        label_time: str = "label_time",
        promote: bool = False,
        policy: TrainingPolicy | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Train on the feature store's training set: ``labels`` (the view's entity, the
        instant each score was made as ``label_time``, and ``target``) joined point in time
        with ``view``'s materialisation, each label seeing only attributes recorded strictly
        before its instant and within the view's TTL. A label with no such attributes is
        refused, naming how many, never trained on with blanks. ``columns`` renames the
        store's feature names back to the ones the model is to score by."""
        actor.require_scope("credit:write")
        from finbridge.core.errors import ValidationError

        found = store.registry.get(view)  # the latest version: the join reads that one
        joined = store.training_set(labels, [found.name], label_time=label_time).to_pandas()
        bare = int(joined[found.feature_names].isna().all(axis=1).sum())
        if bare:
            last = store.last_materialisation(found)
            until = last.until.isoformat() if last else "never"
            raise ValidationError(
                f"{bare} of {len(joined)} labels have no attributes in {found.ref} recorded "
                f"before their {label_time} (materialised until {until})",
                field=label_time,
            )
        frame = joined.drop(columns=[found.entity, label_time]).rename(columns=dict(columns or {}))
        return self.train(
            actor, frame, name=name, target=target, promote=promote, policy=policy,
            source=f"feature store {found.ref}",
        )  # fmt: skip

    def train_recorded(
        self,
        actor: Principal,
        store: FeatureStore,
        frame: pd.DataFrame,
        *,
        name: str,
        target: str,
        id_column: str,
        recorded_at: str,
        scored_at: str,
        kind: str | None = None,
        drop_columns: tuple[str, ...] = (),
        promote: bool = False,
        policy: TrainingPolicy | None = None,
    ) -> ModelVersion:
        """Train from a table through the feature store (``credit.recorded``): its attributes
        materialised into the model's own profile view as recorded at ``recorded_at``, its
        labels joined point in time at ``scored_at`` (each a column or one ISO instant), so
        the model learns only what was known when each score was made."""
        actor.require_scope("credit:write")  # before anything is written to the store
        from finbridge.credit.recorded import LABEL_TIME, record

        done = record(
            store, frame, model=name, entity=id_column, target=target, recorded_at=recorded_at,
            scored_at=scored_at, drop=drop_columns,
        )  # fmt: skip
        # The id and the dropped columns stayed out of the store: nothing left to drop.
        policy = (policy or TrainingPolicy()).merged(kind=kind, drop=(), id_columns=())
        return self.train_from_features(
            actor, store, done.labels, name=name, target=target, view=done.view.name,
            label_time=LABEL_TIME, promote=promote, policy=policy, columns=done.names,
        )  # fmt: skip

    def profile(self, actor: Principal, frame: pd.DataFrame, policy: TrainingPolicy) -> DataProfile:
        """The profiling step alone: every column problem, the classes and the decisions the
        policy would take (raises, naming every problem, where it would refuse)."""
        actor.require_scope("credit:write")
        from finbridge.credit.profile import prepare  # loads scikit-learn

        return prepare(frame, policy).profile

    def report_html(
        self,
        actor: Principal,
        name: str,
        version: int | None = None,
        current: pd.DataFrame | None = None,
    ) -> str:
        return self.registry.report_html(actor, name, version, current)

    def monitoring(
        self, actor: Principal, name: str, current: pd.DataFrame, version: int | None = None
    ) -> dict[str, Any]:
        return self.registry.monitoring(actor, name, current, version)

    def monitor(
        self, actor: Principal, store: MonitorStore, day: date, thresholds: Thresholds | None = None
    ) -> list[MonitorRun]:
        """The day's monitor of every live model: score PSI against its training sample."""
        from finbridge.credit.daily_monitor import monitor_live_models
        from finbridge.lake.monitoring import Thresholds

        return monitor_live_models(self.registry, actor, store, day, thresholds or Thresholds())

    # -- scoring -----------------------------------------------------------------------

    def score(
        self,
        actor: Principal,
        name: str,
        applicant: dict[str, Any],
        *,
        customer_id: str,
        version: int | None = None,
    ) -> ScoreDecision:
        """Score one customer (consent required) with the live or named version."""
        return self.registry.score(
            actor, name, applicant, customer_id=customer_id, version=version,
            consent=self._consent.require_consent,
        )  # fmt: skip

    def score_joint(
        self,
        actor: Principal,
        name: str,
        *,
        customer_id: str,
        join_key: str,
        applicant: dict[str, Any],
        version: int | None = None,
    ) -> JointDecision:
        """Joint (bank + partner) score of one customer; the bank-only model answers, and
        says why, when the partner cannot."""
        from finbridge.credit.vfl.online import score_joint_online

        return score_joint_online(
            self.registry, actor, name, customer_id=customer_id, join_key=join_key,
            applicant=applicant, partner=self.partner(), consent=self._consent.require_consent,
            version=version,
        )  # fmt: skip

    def scores_for(self, actor: Principal, customer_id: str) -> list[dict[str, Any]]:
        return self.registry.scores_for(actor, customer_id)

    # -- the partnership ---------------------------------------------------------------

    def party(
        self,
        role: str,
        data: PartyData,
        cert_dir: Path,
        peer_url: str,
        *,
        actor: Principal,
        register: bool = True,
        model_name: str = "joint",
    ) -> PartyService:
        """This platform's side of a joint partnership: the bank registers each finished job's
        half in the registry (when ``register``), the partner keeps its half in data_dir."""
        from finbridge.credit.vfl.service import PartyService

        return PartyService(
            role, data, cert_dir, peer_url, data_dir=self._data_dir,
            registry=self.registry if role == "bank" and register else None,
            actor=actor, model_name=model_name,
        )  # fmt: skip
