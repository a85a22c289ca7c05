"""The composition root: one :class:`Platform` per process, with typed engine faces.

Interfaces (API, console, gateway, CLI) build one platform at their entry point from one
:class:`Settings` and reach every engine through its face here. Each face is built once, on
first use, under a lock, and closed in reverse build order. Engines never import this module:
where one engine needs another (banking needs a posting guard, identity needs to open a banking
customer, credit needs identity's consent records) it declares a port and the platform wires
the other engine's face into it here, and only here.

Nothing heavy happens in :meth:`Platform.build`: no migration (``finbridge db upgrade`` and the
demo run :func:`upgrade_database`; N server workers must not race to migrate) and no model
loading (faces import LightGBM, scikit-learn or dlib when they are first used; :meth:`warm`
does it ahead of ``/ready`` when serving).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine

from finbridge.core.clock import Clock, SystemClock
from finbridge.core.principal import Principal
from finbridge.core.settings import Settings
from finbridge.store.engine import make_engine

if TYPE_CHECKING:
    from finbridge.acquisition import AcquisitionService
    from finbridge.advisory import AdvisoryService
    from finbridge.banking import BankingService, PostingGuard
    from finbridge.credit import CreditService
    from finbridge.identity import ApiKeyService, IdentityServices
    from finbridge.lake import EventService
    from finbridge.lake.featurestore import FeatureService
    from finbridge.lake.stream import EventStream
    from finbridge.lending import CobRunner, LendingService, PortfolioSimulations
    from finbridge.openbanking import OpenBankingService
    from finbridge.payments import PaymentsService
    from finbridge.quant import QuantService
    from finbridge.risk import RiskService

_T = TypeVar("_T")


class Platform:
    """Settings, database engine and clock, plus one lazily built face per engine."""

    def __init__(self, settings: Settings, engine: Engine, clock: Clock | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        # Re-entrant: building one face may build another (banking's guard asks for risk).
        self._lock = threading.RLock()
        self._faces: dict[str, object] = {}
        self._closed = False
        self._posting_guard: PostingGuard | None = None

    @classmethod
    def build(
        cls, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
    ) -> Platform:
        """A platform on ``settings``' database; cheap, migrates nothing, loads no model."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings, engine or make_engine(settings.resolved_database_url), clock)

    @property
    def lake_dir(self) -> Path:
        return self.settings.resolved_lake_dir

    # -- faces ---------------------------------------------------------------------------

    def _face(self, name: str, build: Callable[[], _T]) -> _T:
        face = self._faces.get(name)
        if face is None:
            with self._lock:
                face = self._faces.get(name)
                if face is None:
                    if self._closed:
                        raise RuntimeError("the platform is closed")
                    face = build()
                    self._faces[name] = face  # dict order is build order, used by close()
        return face  # type: ignore[return-value]

    @property
    def banking(self) -> BankingService:
        """Customers, accounts, the ledger; every posting passes :attr:`posting_guard`."""

        def build() -> BankingService:
            from finbridge.banking import BankingService

            return BankingService(
                self.engine,
                self.clock,
                guard=self.posting_guard,
                business_timezone=self.settings.business_timezone,
                # Dual-control decisions go to identity's audit log, built when first audited.
                audit=_DeferredAudit(self),
                approval_ttl=timedelta(seconds=self.settings.banking.approval_ttl_seconds),
                dual_control=self.settings.banking.dual_control_thresholds(),
            )

        return self._face("banking", build)

    @property
    def identity(self) -> IdentityServices:
        """KYC, PII vault, credentials, sessions, step-up, consent, audit."""

        def build() -> IdentityServices:
            from finbridge.identity import IdentityServices, install_log_masking

            install_log_masking()  # access logs carry URLs; no mobile or ID number may reach them
            return IdentityServices.build(
                self.engine, self.clock, self.settings, customers=_BankingCustomers(self)
            )

        return self._face("identity", build)

    @property
    def api_keys(self) -> ApiKeyService:
        """Operator API keys, with the verified-key cache every interface shares."""
        return self.identity.api_keys

    @property
    def risk(self) -> RiskService:
        """Real-time decisions, rule sets, models and shadow, cases, backtests."""

        def build() -> RiskService:
            from finbridge.payments import SCREENING_ORIGIN
            from finbridge.platform._payments_ports import ScreeningCaseResolver
            from finbridge.risk import RiskService

            # Cases other engines open come back to them with the analyst's verdict.
            resolvers = {SCREENING_ORIGIN: ScreeningCaseResolver(self)}
            return RiskService.build(
                self.engine, self.clock, self.settings, case_resolvers=resolvers
            )

        return self._face("risk", build)

    @property
    def credit(self) -> CreditService:
        """Scorecards, the model registry, joint scoring with the partner."""

        def build() -> CreditService:
            from finbridge.credit import CreditService

            return CreditService.build(
                self.engine, self.clock, self.settings, consent=self.identity.consents
            )

        return self._face("credit", build)

    @property
    def quant(self) -> QuantService:
        """Market data, factors, alpha models, backtests and tear sheets."""

        def build() -> QuantService:
            from finbridge.quant import QuantService

            return QuantService.build(self.engine, self.clock, self.settings)

        return self._face("quant", build)

    @property
    def advisory(self) -> AdvisoryService:
        """Risk profiles, the product catalogue, suitability, model portfolios, goal plans."""

        def build() -> AdvisoryService:
            from finbridge.advisory import AdvisoryService

            return AdvisoryService.build(
                self.engine, self.clock, self.settings,
                banking=self.banking, second_factor=self.identity.step_up,
                audit=self.identity.audit,
            )  # fmt: skip

        return self._face("advisory", build)

    @property
    def payments(self) -> PaymentsService:
        """Merchants and P2P, wallets and FX quotes; money moves through banking's ledger."""

        def build() -> PaymentsService:
            from finbridge.platform._payments_ports import build_payments

            return build_payments(self)

        return self._face("payments", build)

    @property
    def lending(self) -> LendingService:
        """Credit lines: products, applications, purchases, statements, delinquency."""

        def build() -> LendingService:
            from finbridge.platform._lending_ports import build_lending

            return build_lending(self)

        return self._face("lending", build)

    @property
    def cob(self) -> CobRunner:
        """The close-of-business runner over every engine's day steps (lending's and banking's)."""

        def build() -> CobRunner:
            from finbridge.platform._lending_ports import build_cob

            return build_cob(self)

        return self._face("cob", build)

    @property
    def lending_simulations(self) -> PortfolioSimulations:
        """The credit-line portfolio simulation (results cached under data_dir)."""

        def build() -> PortfolioSimulations:
            from finbridge.lending import PortfolioSimulations

            directory = self.settings.data_dir / "lending" / "simulations"
            return PortfolioSimulations(self.lending, self.clock, directory)

        return self._face("lending_simulations", build)

    @property
    def acquisition(self) -> AcquisitionService:
        """Marketing profiles, offers, creatives, campaigns and deliveries (issue 17)."""

        def build() -> AcquisitionService:
            from finbridge.platform._acquisition_ports import build_acquisition

            return build_acquisition(self)

        return self._face("acquisition", build)

    @property
    def openbanking(self) -> OpenBankingService:
        """Open banking: the FAPI 2.0 authorisation server, consents, third-party APIs."""

        def build() -> OpenBankingService:
            from finbridge.platform._openbanking_ports import build_openbanking

            return build_openbanking(self)

        return self._face("openbanking", build)

    @property
    def events(self) -> EventService:
        """The event lake: ingestion, reads, the outbox relay."""

        def build() -> EventService:
            from finbridge.lake import EventLake, EventService

            return EventService(
                self.engine,
                EventLake(self.lake_dir, clock=self.clock),  # quality checks on its clock
                self.clock,
                max_upload_bytes=self.settings.api.max_upload_bytes,
                sharing=self.identity.consents,  # partners' data-sharing consents
            )

        return self._face("events", build)

    @property
    def features(self) -> FeatureService:
        """The feature store: views, materialisations, online values, training sets."""

        def build() -> FeatureService:
            from finbridge.lake import EventLake
            from finbridge.lake.featurestore import FeatureService, fraud_transaction_view
            from finbridge.risk.models import MODEL_FEATURES

            fs = self.settings.features
            redis_url = None
            if fs.online == "redis":
                redis_url = self.settings.redis_url or "redis://127.0.0.1:6379/0"
            return FeatureService.build(
                EventLake(self.lake_dir),
                (fs.dir or self.settings.data_dir / "features").resolve(),
                self.clock,
                currency=fs.spend_currency,
                redis_url=redis_url,
                # The risk engine's training sets join its labels with this view.
                views=[fraud_transaction_view(MODEL_FEATURES)],
            )

        return self._face("features", build)

    @property
    def stream(self) -> EventStream | None:
        """The event stream on NATS JetStream; None unless ``FINBRIDGE_EVENT_BUS`` is set."""
        if self.settings.event_bus is None:
            return None

        def build() -> EventStream:
            from finbridge.platform._stream import build_stream

            built = build_stream(self)
            assert built is not None  # event_bus is set
            return built

        return self._face("stream", build)

    # -- ports wired between engines ----------------------------------------------------

    @property
    def posting_guard(self) -> PostingGuard:
        """Risk decides every posting; identity turns its step-up into a fresh second factor.

        Identity wraps risk (not the reverse) so a step-up is only ever satisfied by server-side
        session state, never by anything the client claims. Built on the first posting, so
        reads never pay for loading the risk model. Tests and embedders may replace it with
        :meth:`use_posting_guard` before banking is first used.
        """
        if self._posting_guard is None:
            with self._lock:
                if self._posting_guard is None:
                    self._posting_guard = _DeferredGuard(self._default_guard)
        return self._posting_guard

    def use_posting_guard(self, guard: PostingGuard) -> None:
        with self._lock:
            if "banking" in self._faces:
                raise RuntimeError("set the posting guard before banking is first used")
            self._posting_guard = guard

    def _default_guard(self) -> PostingGuard:
        from finbridge.identity import StepUpGuard

        # Risk steps up a customer's postings once 24 h of them reach identity's large-transfer
        # limits (the split-transfer bypass); identity then asks for the fresh second factor.
        limits = StepUpGuard(self.identity.step_up).large
        inner = self.risk.posting_guard(cumulative_limits=limits)
        return StepUpGuard(self.identity.step_up, inner=inner)

    # -- life cycle ---------------------------------------------------------------------

    def warm(self) -> None:
        """Build what the first request needs (faces, models, writer processes) up front, so
        the first request after ``/ready`` is as fast as the second."""
        _ = self.identity, self.banking, self.events, self.risk
        guard = self.posting_guard
        if isinstance(guard, _DeferredGuard):
            guard.resolve()
        for face in list(self._faces.values()):
            warm = getattr(face, "warm", None)
            if callable(warm):
                warm()

    def built_faces(self) -> list[str]:
        return list(self._faces)

    def close(self) -> None:
        """Close faces in reverse build order, then the database engine. Idempotent."""
        with self._lock:
            self._closed = True
            faces = list(self._faces.values())
            self._faces.clear()
        for face in reversed(faces):
            closer: Any = getattr(face, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()


class _BankingCustomers:
    """Identity's customer-factory port, filled by banking: registration opens the banking
    customer, and a registration that then fails withdraws it again."""

    _ACTOR = Principal.system("identity")

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def create(self, display_name: str) -> str:
        banking = self._platform.banking
        return banking.create_customer(self._ACTOR, kind="personal", display_name=display_name).id

    def discard(self, customer_id: str) -> None:
        self._platform.banking.discard_customer(self._ACTOR, customer_id)


class _DeferredAudit:
    """Banking's ``ApprovalAudit`` port: identity's hash-chained log, in banking's transaction
    (identity is built on the first audited approval, not with banking)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def append(
        self, session: Any, *, actor: str, action: str, subject: str | None, outcome: str,
        detail: dict[str, Any],
    ) -> int:  # fmt: skip
        return self._platform.identity.audit.append(
            session, actor=actor, action=action, subject=subject, outcome=outcome, detail=detail
        )


class _DeferredGuard:
    """A posting guard built on first use (loading the risk model costs seconds)."""

    def __init__(self, build: Callable[[], PostingGuard]) -> None:
        self._build = build
        self._guard: PostingGuard | None = None
        self._lock = threading.Lock()

    def resolve(self) -> PostingGuard:
        if self._guard is None:
            with self._lock:
                if self._guard is None:
                    self._guard = self._build()
        return self._guard

    def __getattr__(self, name: str) -> Any:
        # check, check_many, settle...: whatever the PostingGuard protocol offers.
        return getattr(self.resolve(), name)
