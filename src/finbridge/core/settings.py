"""One settings tree, parsed once at the entry point and passed down.

``Settings()`` reads ``FINBRIDGE_*`` from the environment; nested sections use a double
underscore (``FINBRIDGE_RISK__VELOCITY=redis``, ``FINBRIDGE_IDENTITY__RP_ID=bank.example``).
This module is the only place in finbridge that reads the environment: everything else receives
a ``Settings`` object (or the section it needs), and tests build one directly.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from finbridge.core.secrets import parse_pii_keys, weak_secret

if TYPE_CHECKING:
    from finbridge.core.money import Money

_DEV_SECRET = "dev-only-secret-change-me-0000000000000000"  # noqa: S105 - refused in production


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Section):
    """The HTTP interfaces: request limits, API keys, documentation."""

    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    docs: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json (default: on, off in production)",
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is trusted without a database lookup; a key "
        "revoked in another process stops working within this time (0 turns the cache off)",
    )


class RateLimitSettings(_Section):
    """Rate limits (``limits`` notation: "10/minute", "100/hour"); in Redis when
    ``FINBRIDGE_REDIS_URL`` is set, shared by every worker. See docs/security.md."""

    enabled: bool = True
    api_per_ip: str = Field(default="3000/minute", description="Every /v1 call, per client IP")
    api_per_principal: str = Field(
        default="1200/minute", description="Every /v1 call, per API key or customer"
    )
    login_per_ip: str = Field(default="30/minute", description="Password and API-key logins")
    registration_per_ip: str = Field(default="20/hour", description="New customers, per IP")
    otp_per_ip: str = Field(default="30/minute", description="Second factors and step-ups")
    ingestion_per_principal: str = Field(
        default="60/hour", description="Partner file uploads, per API key"
    )
    console_login_failures_per_ip: str = Field(
        default="10/minute", description="Failed console API-key sign-ins (and their events)"
    )
    app_per_client: str = Field(
        default="600/minute", description="Open-banking API calls, per third-party app"
    )
    gateway_per_key: str = Field(
        default="6000/minute", description="Risk decision gateway calls, per API key"
    )

    @model_validator(mode="after")
    def _parse(self) -> RateLimitSettings:
        from limits import parse

        for name, value in self.named().items():
            try:
                parse(value)
            except ValueError:
                raise ValueError(f"{name}: {value!r} is not a rate such as '10/minute'") from None
        return self

    def named(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if isinstance(v, str)}


class ServeSettings(_Section):
    """How ``finbridge serve`` runs the processes."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    gateway_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve the risk decision gateway in its own process on this port",
    )
    risk_writer_process: bool = Field(
        default=True,
        description="Commit risk decisions in a child process when serving (see risk.store)",
    )


# At or above these an operator's transfer, withdrawal or deposit waits for a second operator
# (dual control), whatever the risk engine says (banking/service/_approvals.py).
_DUAL_CONTROL: dict[str, Decimal] = {
    code: Decimal(v)
    for code, v in (
        ("CNY", "500000"), ("HKD", "500000"), ("USD", "50000"), ("EUR", "50000"),
        ("GBP", "50000"), ("SGD", "50000"), ("JPY", "7000000"), ("TWD", "2000000"),
        ("KWD", "15000"),
    )
}  # fmt: skip


class BankingSettings(_Section):
    """The banking core's operator policies."""

    approval_ttl_seconds: int = Field(
        default=24 * 3600,
        gt=0,
        le=30 * 24 * 3600,
        description="How long an operator's movement waits for a second operator (dual "
        "control) before it expires",
    )
    dual_control: dict[str, Decimal] = Field(
        default_factory=lambda: dict(_DUAL_CONTROL),
        description="Per currency: an operator's transfer, withdrawal or deposit of this much "
        'or more needs a second operator\'s approval (JSON, e.g. {"TWD": "2000000"}); a '
        "currency not listed has no threshold",
    )

    @field_validator("dual_control")
    @classmethod
    def _thresholds(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        from finbridge.core.errors import ValidationError
        from finbridge.core.money import Money

        for code, amount in value.items():
            try:
                threshold = Money.of(amount, code, field=f"dual_control.{code}")
            except ValidationError as exc:
                raise ValueError(f"dual_control.{code}: {exc}") from None
            if threshold.minor <= 0:
                raise ValueError(f"dual_control.{code}: must be more than zero")
        return value

    def dual_control_thresholds(self) -> dict[str, Money]:
        """The thresholds as money, by currency code."""
        from finbridge.core.money import Money

        return {code: Money.of(amount, code) for code, amount in self.dual_control.items()}


class IdentitySettings(_Section):
    """Identity policy knobs an operator may set; unset ones keep the policy defaults."""

    face_threshold: float | None = Field(default=None, gt=0.0, lt=2.0)
    step_up_window_seconds: int | None = Field(default=None, gt=0, le=3600)
    access_token_ttl_seconds: int | None = Field(default=None, gt=0, le=3600)
    lockout_after: int | None = Field(default=None, ge=1, le=100)
    rp_id: str | None = None
    origins: tuple[str, ...] | None = Field(default=None, description="WebAuthn origins")
    password_hashing: Literal["standard", "fast"] = Field(
        default="standard",
        description="'fast' uses tiny argon2id costs: for test suites only, refused in production",
    )


class RiskSettings(_Section):
    """The risk engine: velocity state, fail-safe outcome, models, decision storage."""

    velocity: Literal["memory", "redis"] = "memory"
    redis_timeout_ms: int = Field(default=200, gt=0)
    safe_outcome: Literal["approve", "review", "step_up", "decline"] = "step_up"
    model_path: Path | None = None  # default: the shipped artifact
    shadow_model_path: Path | None = None  # a candidate model scored beside the live one
    use_model: bool = True
    group_commit: bool = True  # share commits among concurrent decisions
    writer_process: bool = False  # commit them in a child process


class CreditSettings(_Section):
    """The joint credit model's partner link and its certificates."""

    partner_url: str | None = Field(
        default=None, description="The partner's party endpoint for online joint scoring"
    )
    certs: Path | None = Field(
        default=None, description="Folder with the bank's mTLS certificates for the partner link"
    )
    cert_validity_days: int = Field(default=365, ge=1, le=3650)
    cert_warn_days: int = Field(default=30, ge=0)


class AdvisorySettings(_Section):
    """Robo-advice: how long a risk profile lasts, the age above which investors are C1."""

    profile_validity_days: int = Field(default=365, ge=1, le=3660)
    max_age: int = Field(default=70, ge=18, le=120, description="Older investors are capped at C1")
    max_turnover: float | None = Field(
        default=0.5, gt=0, le=2,
        description="Most one refit of a model portfolio may trade: sum of |weight changes|",
    )  # fmt: skip


class PaymentsSettings(_Section):
    """Payments: FX quotes and spreads, payment codes, limits (issue 15)."""

    quote_seconds: int = Field(default=30, ge=5, le=3600, description="How long an FX quote holds")
    fx_spread_bps: dict[str, int] = Field(
        default={"*:standard": 50, "*:premier": 20, "CNY/USD:standard": 40},
        description="Spread in basis points by 'SELL/BUY:tier' (or '*:tier' for any pair)",
    )
    fx_fee_bps: int = Field(default=10, ge=0, le=500, description="FX fee on the sold amount")
    code_seconds: int = Field(default=300, ge=30, le=86400, description="Dynamic QR lifetime")
    request_seconds: int = Field(default=86400, ge=60, description="Request-money link lifetime")
    per_payment_limit: dict[str, int] = Field(
        default={"qr": 50_000, "p2p": 50_000},
        description="Largest single payment by channel, in CNY (other currencies at ECB rates)",
    )
    daily_limit: dict[str, int] = Field(
        default={"qr": 200_000, "p2p": 100_000},
        description="Daily total by customer and channel, in CNY",
    )
    bank_bic: str = Field(
        default="FBRGCNSHXXX",
        pattern=r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$",
        description="The bank's own BIC in outgoing pacs.008 (the default is made up)",
    )
    sanctions_list: Path | None = Field(
        default=None, description="CSV (name,list,reference); default: the shipped made-up demo"
    )


class LendingSettings(_Section):
    """Credit lines and the close of business (issue 14)."""

    score_model: str = Field(
        default="taiwan_default_scorecard",
        description="The credit model whose live version scores applications",
    )
    consent_purpose: str = Field(
        default="credit_scoring", description="The consent purpose an application needs"
    )
    cob_on_serve: bool = Field(
        default=True, description="finbridge serve closes each finished business day by itself"
    )
    cob_check_seconds: int = Field(
        default=300, ge=5, le=86400, description="How often serve looks for a day to close"
    )
    cob_api_max_days: int = Field(
        default=31,
        ge=1,
        le=3660,
        description="Most days one API request may close; longer catch-ups: finbridge cob run",
    )


class AcquisitionSettings(_Section):
    """Customer acquisition: the customers' default zone and language, quiet hours (issue 17)."""

    timezone: str | None = Field(
        default=None, description="Customers' default time zone; default business_timezone"
    )
    locale: Literal["zh-CN", "en"] = "zh-CN"
    quiet_start: str = Field(default="22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    quiet_end: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    deliver_on_serve: bool = Field(
        default=True, description="finbridge serve plans campaigns hourly and sends due messages"
    )
    deliver_check_seconds: int = Field(default=60, ge=5, le=3600)


class OpenBankingSettings(_Section):
    """Open banking's authorisation server (issue 18): issuer, signing key, lifetimes."""

    issuer: str = Field(
        default="http://localhost:8000", description="The issuer identifier (https in production)"
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="The server's private JWK (JSON, EC P-256); default: derived from secret_key",
    )
    access_token_seconds: int = Field(default=300, ge=30, le=3600)
    refresh_token_seconds: int = Field(default=30 * 86400, ge=300, le=400 * 86400)
    code_seconds: int = Field(default=60, ge=5, le=600, description="Authorisation code life")
    request_seconds: int = Field(default=90, ge=10, le=600, description="Pushed request life")
    proof_window_seconds: int = Field(
        default=60, ge=5, le=600, description="How far a DPoP proof's iat may be from now"
    )
    require_dpop_nonce: bool = Field(default=False, description="Demand a server DPoP nonce")
    webhooks_on_serve: bool = Field(default=True, description="Send app webhooks while serving")
    webhook_check_seconds: float = Field(default=5, gt=0, le=3600)


class StreamSettings(_Section):
    """The event stream on NATS JetStream (used only when ``event_bus`` is set)."""

    stream_name: str = Field(default="FINBRIDGE_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    subject_prefix: str = Field(
        default="finbridge.events", pattern=r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$"
    )
    duplicate_window_seconds: int = Field(
        default=600, ge=1, le=86_400, description="JetStream de-duplication by event id"
    )
    max_pending: int = Field(
        default=50_000, ge=1, description="The relay pauses while a consumer lags past this"
    )
    ack_wait_seconds: float = Field(
        default=30, gt=0, le=3600, description="Unacked messages are redelivered after this"
    )
    publish_timeout_seconds: float = Field(default=5, gt=0, le=120)
    consumers: tuple[str, ...] = Field(
        default=("lake-writer", "risk-velocity", "acquisition-profiles"),
        description="Durable consumers the relay watches for back-pressure",
    )


class MonitoringSettings(_Section):
    """Model monitors and the retraining job (issue 19): alert thresholds, windows, margin."""

    psi_alert: float = Field(default=0.10, gt=0, le=10)
    psi_retrain: float = Field(default=0.25, gt=0, le=10)
    min_auc: float = Field(default=0.70, ge=0, le=1, description="Alert below this AUC")
    min_average_precision: float = Field(default=0.0, ge=0, le=1)
    min_ks: float = Field(default=0.20, ge=0, le=1)
    baseline_days: int = Field(default=7, ge=1, le=90, description="Risk drift baseline")
    label_days: int = Field(default=30, ge=1, le=365, description="Labelled window for AUC/AP")
    retrain_margin: float = Field(
        default=0.01, ge=0, le=1, description="AP a challenger must add to be promoted"
    )
    retrain_history_days: int = Field(default=56, ge=7, le=730)
    retrain_eval_days: int = Field(default=7, ge=1, le=90)
    label_delay_days: int = Field(default=7, ge=0, le=365)
    retrain_data: Path | None = Field(
        default=None, description="Labelled card transactions (handbook layout) to retrain on"
    )
    retrain_every_days: int = Field(
        default=7, ge=0, le=365,
        description="The COB retrains on days whose ordinal is a multiple (7: Sundays); 0: never",
    )  # fmt: skip
    retrain_source: Literal["data", "decisions"] = Field(
        default="data",
        description=(
            "What the COB's retraining turn learns from: 'data' (the labelled file retrain_data)"
            " or 'decisions' (the platform's own live decisions with their case and chargeback"
            " verdicts as known at the turn)"
        ),
    )


class FeaturesSettings(_Section):
    """The feature store: where snapshots live, the online store, the spend view's currency."""

    dir: Path | None = Field(
        default=None, description="Offline snapshots; default data_dir/features"
    )
    online: Literal["memory", "redis"] = Field(
        default="memory", description="'redis' keeps online features in redis_url"
    )
    spend_currency: str = Field(default="TWD", pattern=r"^[A-Z]{3}$")


class Settings(BaseSettings):
    """Everything configurable. Embedded defaults run with no server to install."""

    model_config = SettingsConfigDict(
        env_prefix="FINBRIDGE_",
        env_nested_delimiter="__",
        env_file=None,
        extra="ignore",
        frozen=True,
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file and lake live")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in data_dir"
    )
    lake_dir: Path | None = Field(
        default=None, description="Parquet event lake; default data_dir/lake"
    )
    redis_url: str | None = None
    event_bus: str | None = Field(
        default=None,
        pattern=r"^nats://",
        description="NATS JetStream URL (nats://host:port); unset: the outbox feeds the lake only",
    )
    secret_key: SecretStr = SecretStr(_DEV_SECRET)
    pii_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated key-id:base64 AES keys for the PII vault, newest first",
    )
    business_timezone: str = "Asia/Shanghai"

    api: ApiSettings = ApiSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    serve: ServeSettings = ServeSettings()
    banking: BankingSettings = BankingSettings()
    identity: IdentitySettings = IdentitySettings()
    risk: RiskSettings = RiskSettings()
    credit: CreditSettings = CreditSettings()
    lending: LendingSettings = LendingSettings()
    advisory: AdvisorySettings = AdvisorySettings()
    payments: PaymentsSettings = PaymentsSettings()
    acquisition: AcquisitionSettings = AcquisitionSettings()
    openbanking: OpenBankingSettings = OpenBankingSettings()
    features: FeaturesSettings = FeaturesSettings()
    stream: StreamSettings = StreamSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @model_validator(mode="after")
    def _refuse_dev_settings_in_production(self) -> Settings:
        if self.pii_keys is not None:  # malformed keys are refused in every environment
            try:
                parse_pii_keys(self.pii_keys.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"FINBRIDGE_PII_KEYS: {exc}") from None
        if self.env != "production":
            return self
        if self.secret_key.get_secret_value() == _DEV_SECRET:
            raise ValueError("FINBRIDGE_SECRET_KEY must be set in production")
        weak = weak_secret(self.secret_key.get_secret_value())
        if weak is not None:
            raise ValueError(f"FINBRIDGE_SECRET_KEY is too weak for production: it {weak}")
        if self.pii_keys is None:
            raise ValueError("FINBRIDGE_PII_KEYS must be set in production")
        if self.identity.password_hashing != "standard":  # noqa: S105 - a mode, not a secret
            raise ValueError("FINBRIDGE_IDENTITY__PASSWORD_HASHING=fast is refused in production")
        return self

    @property
    def api_docs(self) -> bool:
        """Whether the API description and its pages are served (off in production unless
        ``FINBRIDGE_API__DOCS=true``)."""
        return self.api.docs if self.api.docs is not None else self.env != "production"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'finbridge.db').resolve()}"

    @property
    def resolved_lake_dir(self) -> Path:
        return (self.lake_dir or self.data_dir / "lake").resolve()

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with top-level fields or whole sections replaced (settings are frozen).

        ``settings.with_changes(risk=settings.risk.model_copy(update={"velocity": "redis"}))``
        """
        return self.model_copy(update=changes)

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets replaced by ``**********``."""
        return _mask(self.model_dump(mode="json"), self)


def _mask(data: dict[str, Any], model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in data.items():
        attr = getattr(model, name, None)
        if isinstance(attr, SecretStr):
            out[name] = "**********" if attr.get_secret_value() else ""
        elif isinstance(attr, BaseModel) and isinstance(value, dict):
            out[name] = _mask(value, attr)
        elif name in ("database_url", "event_bus") and isinstance(value, str) and "@" in value:
            # A URL may carry a password: keep the scheme and host, hide the credentials.
            scheme, _, rest = value.partition("://")
            out[name] = f"{scheme}://**********@{rest.rsplit('@', 1)[1]}"
        else:
            out[name] = value
    return out
