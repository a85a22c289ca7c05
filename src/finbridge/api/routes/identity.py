"""Identity over HTTP: registration, KYC, login (password then second factor), TOTP, sessions,
consents, step-up, passkeys and face.

Public (no credentials possible yet): register, login and its second step, token refresh, the
JWKS. Everything else needs a principal, and the services check that a customer only touches
their own objects (another customer's id answers 404 and is audited).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile, status
from starlette.concurrency import run_in_threadpool

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.ratelimit import client_ip
from finbridge.api.schemas.identity import (
    AssertionRequest,
    AuditVerifyPublic,
    ChallengeRequest,
    CodeRequest,
    ConsentPublic,
    ConsentRequest,
    FaceMatchPublic,
    KycCheckPublic,
    KycCheckRequest,
    LivenessChallengePublic,
    LivenessResultPublic,
    LoginPublic,
    LoginRequest,
    PasskeyLoginRequest,
    PasskeyPublic,
    PasskeyRegisterRequest,
    PersonPublic,
    RecoveryCodesPublic,
    RefreshRequest,
    RegisterRequest,
    SecondFactorRequest,
    SessionPublic,
    TokenPublic,
    TotpSetupPublic,
)
from finbridge.core.errors import NotFound
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity import Consent, IdentityServices, RegistrationRequest

router = APIRouter(prefix="/identity", tags=["identity"])


async def _ids(platform: PlatformDep) -> IdentityServices:
    # async: a property read, so FastAPI runs it inline instead of on a worker thread.
    return platform.identity


IdsDep = Annotated[IdentityServices, Depends(_ids)]


def _me(actor: Principal) -> str:
    if actor.kind is not PrincipalKind.CUSTOMER or actor.customer_id is None:
        raise NotFound("this endpoint is for a logged-in customer", field="customer_id")
    return actor.customer_id


# -- onboarding -----------------------------------------------------------------------------------


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=PersonPublic)
def register(body: RegisterRequest, ids: IdsDep) -> PersonPublic:
    """Self-registration of a personal customer with their password (public, one atomic call)."""
    req = RegistrationRequest(**body.model_dump(exclude={"password"}))
    return PersonPublic.of(ids.persons.register(req, password=body.password))


@router.post("/kyc/check", response_model=KycCheckPublic)
def kyc_check(body: KycCheckRequest, actor: PrincipalDep, ids: IdsDep) -> KycCheckPublic:
    """Validate KYC data without storing it; answers with masked, normalised values."""
    req = RegistrationRequest(**body.model_dump(exclude={"credit_product"}))
    checked = ids.persons.check_kyc(actor, req, credit_product=body.credit_product)
    return KycCheckPublic(
        valid=True,
        id_type=checked.id_type,
        id_number=checked.id_number,
        id_country=checked.id_country,
        phone=checked.phone,
        birth_year=checked.birth_year,
        age=checked.age,
        adult=checked.adult,
    )


@router.get("/me", response_model=PersonPublic)
def me(actor: PrincipalDep, ids: IdsDep) -> PersonPublic:
    return PersonPublic.of(ids.persons.view(actor, _me(actor)))


@router.get("/customers/{customer_id}", response_model=PersonPublic)
def person(customer_id: str, actor: PrincipalDep, ids: IdsDep) -> PersonPublic:
    return PersonPublic.of(ids.persons.view(actor, customer_id))


@router.post("/customers/{customer_id}/kyc/verify", response_model=PersonPublic)
def verify_kyc(customer_id: str, actor: PrincipalDep, ids: IdsDep) -> PersonPublic:
    return PersonPublic.of(ids.persons.verify_kyc(actor, customer_id))


# -- login and tokens -----------------------------------------------------------------------------


@router.post("/login", response_model=LoginPublic)
def login(body: LoginRequest, ids: IdsDep, request: Request) -> LoginPublic:
    """Step one: mobile number and password (public). Step two follows if a factor is enrolled.
    Failures are throttled per (mobile number, client address); events record the address."""
    result = ids.login.start(
        body.phone, body.password, device=body.device, client=client_ip(request)
    )
    if result.tokens is not None:
        return LoginPublic(tokens=TokenPublic.of(result.tokens))
    return LoginPublic(challenge=result.challenge, methods=list(result.methods))


@router.post("/login/second-factor", response_model=TokenPublic)
def login_second_factor(body: SecondFactorRequest, ids: IdsDep) -> TokenPublic:
    return TokenPublic.of(ids.login.complete(body.challenge, body.method, body.code))


@router.post("/token/refresh", response_model=TokenPublic)
def refresh(body: RefreshRequest, ids: IdsDep) -> TokenPublic:
    return TokenPublic.of(ids.sessions.refresh(body.refresh_token))


@router.get("/jwks")
def jwks(ids: IdsDep) -> dict[str, object]:
    """Public keys that verify customer access tokens (Ed25519, RFC 8037)."""
    return ids.signer.public_jwks()


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(actor: PrincipalDep, ids: IdsDep) -> None:
    ids.sessions.logout(actor)


@router.get("/sessions", response_model=list[SessionPublic])
def sessions(actor: PrincipalDep, ids: IdsDep) -> list[SessionPublic]:
    return [SessionPublic.of(s) for s in ids.sessions.list(actor, _me(actor))]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_session(session_id: str, actor: PrincipalDep, ids: IdsDep) -> None:
    ids.sessions.revoke(actor, _me(actor), session_id)


@router.post("/sessions/revoke-all")
def revoke_all(actor: PrincipalDep, ids: IdsDep) -> dict[str, int]:
    return {"revoked": ids.sessions.revoke_all(actor, _me(actor))}


# -- TOTP and step-up -----------------------------------------------------------------------------


@router.post("/totp/setup", response_model=TotpSetupPublic)
def totp_setup(actor: PrincipalDep, ids: IdsDep) -> TotpSetupPublic:
    setup = ids.totp.begin_setup(actor, _me(actor))
    return TotpSetupPublic(secret=setup.secret, otpauth_uri=setup.uri)


@router.post("/totp/confirm", response_model=RecoveryCodesPublic)
def totp_confirm(body: CodeRequest, actor: PrincipalDep, ids: IdsDep) -> RecoveryCodesPublic:
    return RecoveryCodesPublic(recovery_codes=ids.totp.confirm_setup(actor, _me(actor), body.code))


@router.post("/step-up/totp", status_code=status.HTTP_204_NO_CONTENT)
def step_up_totp(body: CodeRequest, actor: PrincipalDep, ids: IdsDep) -> None:
    ids.step_up.with_totp(actor, body.code)


# -- passkeys -------------------------------------------------------------------------------------


@router.post("/passkeys/register/options")
def passkey_register_options(actor: PrincipalDep, ids: IdsDep) -> dict[str, Any]:
    """WebAuthn creation options (pass to navigator.credentials.create)."""
    return ids.passkeys.registration_options(actor)


@router.post(
    "/passkeys/register", status_code=status.HTTP_201_CREATED, response_model=PasskeyPublic
)
def passkey_register(
    body: PasskeyRegisterRequest, actor: PrincipalDep, ids: IdsDep
) -> PasskeyPublic:
    p = ids.passkeys.register(actor, body.credential, body.label)
    return PasskeyPublic(credential_id=p.credential_id, label=p.label, sign_count=p.sign_count)


@router.post("/login/passkey/options")
def passkey_login_options(body: ChallengeRequest, ids: IdsDep) -> dict[str, Any]:
    return ids.login.passkey_options(body.challenge)


@router.post("/login/passkey", response_model=TokenPublic)
def passkey_login(body: PasskeyLoginRequest, ids: IdsDep) -> TokenPublic:
    return TokenPublic.of(ids.login.complete_passkey(body.challenge, body.credential))


@router.post("/step-up/passkey/options")
def passkey_step_up_options(actor: PrincipalDep, ids: IdsDep) -> dict[str, Any]:
    return ids.passkeys.authentication_options(_me(actor), "webauthn.step_up")


@router.post("/step-up/passkey", status_code=status.HTTP_204_NO_CONTENT)
def passkey_step_up(body: AssertionRequest, actor: PrincipalDep, ids: IdsDep) -> None:
    ids.passkeys.step_up(actor, body.credential)


async def read_image(upload: UploadFile, max_bytes: int, field: str = "image") -> bytes:
    """Read at most one byte more than the image cap; the service refuses (and audits) the rest."""
    return await upload.read(max_bytes + 1)


# -- face ----------------------------------------------------------------------------------------

ImageUpload = Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 8 MB")]


@router.post("/face/enrol", status_code=status.HTTP_204_NO_CONTENT)
async def face_enrol(image: ImageUpload, actor: PrincipalDep, ids: IdsDep) -> None:
    """Enrol the customer's face (needs consent ``biometric_face``)."""
    data = await read_image(image, ids.face.model.max_bytes)
    # dlib work is CPU-bound and blocking: keep it off the event loop.
    await run_in_threadpool(ids.face.enrol, actor, data)


@router.post("/face/match", response_model=FaceMatchPublic)
async def face_match(image: ImageUpload, actor: PrincipalDep, ids: IdsDep) -> FaceMatchPublic:
    """1:1 comparison with the enrolled face (informational; not a factor without liveness)."""
    data = await read_image(image, ids.face.model.max_bytes)
    result = await run_in_threadpool(ids.face.match, actor, data)
    return FaceMatchPublic(
        matched=result.matched, distance=result.distance, threshold=result.threshold
    )


@router.post("/face/liveness/challenge", response_model=LivenessChallengePublic)
def face_challenge(actor: PrincipalDep, ids: IdsDep) -> LivenessChallengePublic:
    ch = ids.face.challenge(actor)
    return LivenessChallengePublic(
        challenge_id=ch.id, steps=list(ch.steps), expires_at=ch.expires_at
    )


@router.post("/face/verify", response_model=LivenessResultPublic)
async def face_verify(
    actor: PrincipalDep,
    ids: IdsDep,
    challenge_id: Annotated[str, Form(max_length=64)],
    frames: Annotated[list[UploadFile], File(description="frames in capture order")],
) -> LivenessResultPublic:
    """Answer a liveness challenge with frames; success steps the session up (face)."""
    data = [
        await read_image(f, ids.face.model.max_bytes, field=f"frames[{i}]")
        for i, f in enumerate(frames[: ids.config.liveness_max_frames + 1])
    ]
    result = await run_in_threadpool(ids.face.verify_liveness, actor, challenge_id, data)
    return LivenessResultPublic(
        passed=result.passed, observed=list(result.observed), max_distance=result.max_distance
    )


# -- consents -------------------------------------------------------------------------------------


def _consent(c: Consent) -> ConsentPublic:
    return ConsentPublic(
        id=c.id,
        purpose=c.purpose,
        scope=list(c.scope),
        granted_at=c.granted_at,
        withdrawn_at=c.withdrawn_at,
        active=c.active,
    )


@router.get("/customers/{customer_id}/consents", response_model=list[ConsentPublic])
def consents(customer_id: str, actor: PrincipalDep, ids: IdsDep) -> list[ConsentPublic]:
    return [_consent(c) for c in ids.consents.list(actor, customer_id)]


@router.post(
    "/customers/{customer_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentPublic,
)
def grant_consent(
    customer_id: str, body: ConsentRequest, actor: PrincipalDep, ids: IdsDep
) -> ConsentPublic:
    return _consent(ids.consents.grant(actor, customer_id, body.purpose, body.scope))


@router.delete("/customers/{customer_id}/consents/{consent_id}", response_model=ConsentPublic)
def withdraw_consent(
    customer_id: str, consent_id: str, actor: PrincipalDep, ids: IdsDep
) -> ConsentPublic:
    return _consent(ids.consents.withdraw(actor, customer_id, consent_id))


# -- audit ----------------------------------------------------------------------------------------


@router.get("/audit/verify", response_model=AuditVerifyPublic)
def audit_verify(actor: PrincipalDep, ids: IdsDep) -> AuditVerifyPublic:
    actor.require_scope("audit:read")
    report = ids.audit.verify()
    return AuditVerifyPublic(
        ok=report.ok, checked=report.checked, head_hash=report.head_hash, problems=report.problems
    )
