"""Identity wire schemas. Responses carry masked personal data only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints

from finbridge.api.schemas.common import WireModel
from finbridge.identity import PersonView, SessionInfo, TokenPair

Short = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Device = Annotated[str, StringConstraints(max_length=200)]


class RegisterRequest(WireModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    id_type: Literal["prc_resident_id", "hk_id", "passport"]
    id_number: Short
    phone: Short
    password: Secret
    birth_date: date | None = None
    country: Annotated[str, StringConstraints(max_length=3)] | None = None
    document_expires: date | None = None
    card_number: Short | None = None


class KycCheckRequest(WireModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    id_type: Literal["prc_resident_id", "hk_id", "passport"]
    id_number: Short
    phone: Short
    birth_date: date | None = None
    country: Annotated[str, StringConstraints(max_length=3)] | None = None
    document_expires: date | None = None
    card_number: Short | None = None
    credit_product: bool = False


class KycCheckPublic(BaseModel):
    valid: bool
    id_type: str
    id_number: str
    id_country: str
    phone: str
    birth_year: int
    age: int
    adult: bool


class PersonPublic(BaseModel):
    customer_id: str
    name: str
    id_type: str
    id_country: str
    id_number: str
    phone: str
    birth_year: int
    kyc_status: str
    cards: list[str]
    factors: list[str]

    @classmethod
    def of(cls, v: PersonView) -> PersonPublic:
        return cls(
            customer_id=v.customer_id,
            name=v.name,
            id_type=v.id_type,
            id_country=v.id_country,
            id_number=v.id_number,
            phone=v.phone,
            birth_year=v.birth_year,
            kyc_status=v.kyc_status,
            cards=list(v.cards),
            factors=list(v.factors),
        )


class LoginRequest(WireModel):
    phone: Short
    password: Secret
    device: Device = ""


class TokenPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    session_id: str

    @classmethod
    def of(cls, t: TokenPair) -> TokenPublic:
        return cls(
            access_token=t.access_token,
            refresh_token=t.refresh_token,
            token_type=t.token_type,
            expires_in=t.expires_in,
            session_id=t.session_id,
        )


class LoginPublic(BaseModel):
    """Either ``tokens`` or a ``challenge`` to complete with one of ``methods``."""

    tokens: TokenPublic | None = None
    challenge: str | None = None
    methods: list[str] = []


class SecondFactorRequest(WireModel):
    challenge: Secret
    method: Literal["totp", "recovery_code"]
    code: Short


class RefreshRequest(WireModel):
    refresh_token: Secret


class CodeRequest(WireModel):
    code: Short


class TotpSetupPublic(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodesPublic(BaseModel):
    recovery_codes: list[str]


class SessionPublic(BaseModel):
    id: str
    device: str
    amr: list[str]
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def of(cls, s: SessionInfo) -> SessionPublic:
        return cls(
            id=s.id,
            device=s.device,
            amr=list(s.amr),
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            expires_at=s.expires_at,
            current=s.current,
        )


class ConsentRequest(WireModel):
    purpose: Short
    scope: list[Short]


class ConsentPublic(BaseModel):
    id: str
    purpose: str
    scope: list[str]
    granted_at: datetime
    withdrawn_at: datetime | None
    active: bool


class AuditVerifyPublic(BaseModel):
    ok: bool
    checked: int
    head_hash: str
    problems: list[str]


class PasskeyRegisterRequest(WireModel):
    credential: dict[str, Any]
    label: Annotated[str, StringConstraints(max_length=120)] = ""


class PasskeyPublic(BaseModel):
    credential_id: str
    label: str
    sign_count: int


class ChallengeRequest(WireModel):
    challenge: Secret


class PasskeyLoginRequest(WireModel):
    challenge: Secret
    credential: dict[str, Any]


class AssertionRequest(WireModel):
    credential: dict[str, Any]


class LivenessChallengePublic(BaseModel):
    challenge_id: str
    steps: list[str]
    expires_at: datetime


class LivenessResultPublic(BaseModel):
    passed: bool
    observed: list[str]
    max_distance: float


class FaceMatchPublic(BaseModel):
    matched: bool
    distance: float
    threshold: float
