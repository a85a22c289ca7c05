"""Face enrolment, 1:1 matching and active liveness as a step-up factor ("刷臉").

Enrolment needs the customer's explicit consent for biometric processing (PIPL: sensitive
personal information) and stores only the 128-value embedding, sealed in the PII vault.

Active liveness: the server draws a random sequence of head turns (e.g. left, left, right), each
followed by facing the camera again, and keeps it single-use for two minutes. The client sends a
series of frames. Every frame must hold exactly one face that matches the enrolled template (the
same person throughout), and the head poses read from the 5 landmarks must walk through exactly
the drawn sequence. Replays are refused: frames whose bytes, or whose landmark geometry (to
~3 px), or the *mirror image* of whose geometry, were seen in an earlier liveness session of the
customer; frames repeated within a session; challenges used twice. Face is a step-up factor
only; it never opens a session by itself and never alone authorises moving money.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity._time import aware
from finbridge.identity.audit import AuditLog
from finbridge.identity.config import IdentityConfig
from finbridge.identity.consent import ConsentService
from finbridge.identity.events import emit_auth
from finbridge.identity.face import (
    MODEL_NAME,
    FaceModel,
    FaceSample,
    distance,
    mirrored,
    normalised_landmarks,
    same_geometry,
    template_bytes,
    template_from_bytes,
    yaw,
)
from finbridge.identity.stepup import StepUpService
from finbridge.identity.tables import ChallengeRow, FaceTemplateRow, PasskeyRow, TotpRow
from finbridge.identity.vault import PiiVault
from finbridge.store.engine import unit_of_work

LIVENESS = "face.liveness"
CONSENT_PURPOSE = "biometric_face"
TURNS = ("turn_left", "turn_right")
HISTORY = 20  # earlier liveness sessions compared against for replays


@dataclass(frozen=True, slots=True)
class FaceMatch:
    matched: bool
    distance: float
    threshold: float


@dataclass(frozen=True, slots=True)
class LivenessChallenge:
    id: str
    steps: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LivenessResult:
    passed: bool
    reason: str
    observed: tuple[str, ...]
    max_distance: float


# Why a liveness check failed, as a code an interface can word for the customer.
FAILURE_KINDS = {
    "a frame does not match the enrolled face": "mismatch",
    "head movements do not follow the challenge": "not_live",
    "the same frame was sent twice": "not_live",
    "frames replayed from an earlier session": "replay",
    "mirrored frames from an earlier session": "replay",
}


class LivenessFailed(AuthenticationFailed):
    """The frames were read but are not the enrolled customer, live: ``kind`` says which
    (``mismatch``: another face; ``not_live``: no movement as asked, e.g. a still photo;
    ``replay``: frames seen before)."""

    def __init__(self, reason: str) -> None:
        self.kind = FAILURE_KINDS.get(reason, "not_live")
        super().__init__(f"liveness check failed: {reason}", field="frames", kind=self.kind)


def _customer(actor: Principal) -> str:
    if actor.kind is not PrincipalKind.CUSTOMER or actor.customer_id is None:
        raise AuthenticationFailed("face checks belong to a logged-in customer", field="session_id")
    return actor.customer_id


class FaceService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        vault: PiiVault,
        audit: AuditLog,
        config: IdentityConfig,
        consents: ConsentService,
        step_up: StepUpService,
        model: FaceModel | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._vault = vault
        self._audit = audit
        self._config = config
        self._consents = consents
        self._step_up = step_up
        self.model = model or FaceModel(max_side=config.face_max_side)

    @staticmethod
    def _ctx(customer_id: str) -> str:
        return f"identity_face_templates.template:{customer_id}"

    def _template(self, customer_id: str) -> Any:
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(FaceTemplateRow, customer_id)
        if row is None:
            raise NotFound("no face enrolled", field="face")
        raw = self._vault.decrypt_bytes(row.template_enc, context=self._ctx(customer_id))
        return template_from_bytes(raw)

    def enrol(self, actor: Principal, image: bytes) -> None:
        """Enrol (or replace) the customer's face. Replacing needs a fresh non-face factor."""
        customer_id = _customer(actor)
        self._consents.require_consent(customer_id, CONSENT_PURPOSE)
        with unit_of_work(self._engine, write=False) as session:
            has_face = session.get(FaceTemplateRow, customer_id) is not None
            has_other = (
                session.get(TotpRow, customer_id) is not None
                or session.scalar(
                    select(PasskeyRow.credential_id).where(PasskeyRow.customer_id == customer_id)
                )
                is not None
            )
        if has_face or has_other:
            # Someone holding only a stolen password session must not plant their own face.
            self._step_up.require_step_up(actor, "credentials.change", demanded=True)
        try:
            sample = self.model.analyse(image)
        except ValidationError as exc:
            self._audit.record(
                actor=customer_id,
                action="face.enrol",
                subject=customer_id,
                outcome="refused",
                detail={"reason": exc.detail},
            )
            raise
        sealed = self._vault.encrypt(
            template_bytes(sample.descriptor), context=self._ctx(customer_id)
        )
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            row = session.get(FaceTemplateRow, customer_id)
            if row is None:
                session.add(
                    FaceTemplateRow(
                        customer_id=customer_id,
                        template_enc=sealed,
                        model=MODEL_NAME,
                        enrolled_at=now,
                        last_match_distance=None,
                    )
                )
            else:
                row.template_enc, row.model, row.enrolled_at = sealed, MODEL_NAME, now
            self._audit.append(
                session,
                actor=customer_id,
                action="face.enrol",
                subject=customer_id,
                outcome="success",
                detail={"replaced": has_face},
            )
            emit_auth(
                session,
                now,
                action="face.enrol",
                outcome="success",
                customer_id=customer_id,
                method="face",
            )

    def match(self, actor: Principal, image: bytes) -> FaceMatch:
        """1:1 comparison of one image with the enrolled template (no liveness: not a factor)."""
        customer_id = _customer(actor)
        template = self._template(customer_id)
        try:
            sample = self.model.analyse(image)
        except ValidationError as exc:
            self._audit.record(
                actor=customer_id,
                action="face.match",
                subject=customer_id,
                outcome="refused",
                detail={"reason": exc.detail},
            )
            raise
        d = distance(sample.descriptor, template)
        self._audit.record(
            actor=customer_id,
            action="face.match",
            subject=customer_id,
            outcome="success" if d <= self._config.face_threshold else "failure",
            detail={"distance": round(d, 4)},
        )
        return FaceMatch(d <= self._config.face_threshold, d, self._config.face_threshold)

    def challenge(self, actor: Principal) -> LivenessChallenge:
        return self.challenge_for(_customer(actor))

    def enrolled(self, customer_id: str) -> bool:
        with unit_of_work(self._engine, write=False) as session:
            return session.get(FaceTemplateRow, customer_id) is not None

    def challenge_for(self, customer_id: str) -> LivenessChallenge:
        """A liveness challenge for ``customer_id`` (the sign-in's second step names who; a
        signed-in customer's step-up uses :meth:`challenge`). Consent is checked here, where
        the biometric data is used: a withdrawn consent stops face sign-in at once."""
        self._consents.require_consent(customer_id, CONSENT_PURPOSE)
        self._template(customer_id)  # enrolled?
        rng = secrets.SystemRandom()
        turns = [rng.choice(TURNS) for _ in range(self._config.liveness_turns)]
        steps = ["center"]
        for turn in turns:
            steps += [turn, "center"]
        expires = self._clock.now() + self._config.liveness_ttl
        row = ChallengeRow(
            id=new_id(),
            kind=LIVENESS,
            customer_id=customer_id,
            challenge=secrets.token_bytes(16),
            data={"steps": steps},
            expires_at=expires,
            used_at=None,
        )
        with unit_of_work(self._engine) as session:
            session.add(row)
        return LivenessChallenge(row.id, tuple(steps), expires)

    def _pose(self, sample: FaceSample) -> str:
        y = yaw(sample.landmarks)
        if abs(y) <= self._config.liveness_center_yaw:
            return "center"
        if y >= self._config.liveness_turn_yaw:
            return "turn_left"  # nose toward the image's right: the person's own left
        if y <= -self._config.liveness_turn_yaw:
            return "turn_right"
        return "between"

    def verify_liveness(
        self, actor: Principal, challenge_id: str, frames: list[bytes]
    ) -> LivenessResult:
        """Check the frames against the challenge; on success the session is stepped up (face)."""
        return self.verify_liveness_for(_customer(actor), challenge_id, frames, step_up=actor)

    def verify_liveness_for(
        self,
        customer_id: str,
        challenge_id: str,
        frames: list[bytes],
        *,
        step_up: Principal | None = None,
    ) -> LivenessResult:
        """Check ``customer_id``'s frames against the challenge. Raises :class:`LivenessFailed`
        (its ``reason``: mismatch, not_live or replay) or ValidationError for unusable frames.
        With ``step_up``, that principal's session is stepped up (face) on success."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            row = session.get(ChallengeRow, challenge_id)
            if (
                row is None
                or row.kind != LIVENESS
                or row.customer_id != customer_id
                or row.used_at is not None
                or aware(row.expires_at) <= now
            ):
                raise AuthenticationFailed(
                    "liveness challenge unknown, used or expired", field="challenge_id"
                )
            row.used_at = now  # single use, whatever the outcome
            steps = list(row.data["steps"])
            history = session.scalars(
                select(ChallengeRow.data)
                .where(
                    ChallengeRow.kind == LIVENESS,
                    ChallengeRow.customer_id == customer_id,
                    ChallengeRow.used_at.is_not(None),
                    ChallengeRow.id != challenge_id,
                )
                .order_by(ChallengeRow.expires_at.desc())
                .limit(HISTORY)
            ).all()
        try:
            result, prints = self._check(customer_id, steps, frames, history)
        except ValidationError as exc:  # unreadable frame, no face, two faces, too few frames
            self._audit.record(
                actor=customer_id,
                action="face.liveness",
                subject=customer_id,
                outcome="refused",
                detail={"field": exc.field or "", "reason": exc.detail},
            )
            raise
        with unit_of_work(self._engine) as session:
            stored = session.get(ChallengeRow, challenge_id)
            assert stored is not None
            stored.data = {"steps": steps, "frames": prints, "passed": result.passed}
            detail = {
                "reason": result.reason,
                "observed": ",".join(result.observed),
                "max_distance": round(result.max_distance, 4),
            }
            if result.passed and step_up is not None:
                self._step_up.record(session, step_up, "face")
            self._audit.append(
                session,
                actor=customer_id,
                action="face.liveness",
                subject=customer_id,
                outcome="success" if result.passed else "failure",
                detail=detail,
            )
            if not result.passed:
                emit_auth(
                    session,
                    now,
                    action="face.liveness",
                    outcome="failure",
                    customer_id=customer_id,
                    method="face",
                    reason=result.reason,
                )
        if not result.passed:
            raise LivenessFailed(result.reason)
        return result

    def _check(
        self, customer_id: str, steps: list[str], frames: list[bytes], history: Any
    ) -> tuple[LivenessResult, list[dict[str, Any]]]:
        if not len(steps) <= len(frames) <= self._config.liveness_max_frames:
            raise ValidationError(
                f"send between {len(steps)} and {self._config.liveness_max_frames} frames",
                field="frames",
            )
        template = self._template(customer_id)
        samples = [self.model.analyse(f, field=f"frames[{i}]") for i, f in enumerate(frames)]
        prints: list[dict[str, Any]] = [
            {"sha": s.sha256, "geo": normalised_landmarks(s)} for s in samples
        ]
        worst = max(distance(s.descriptor, template) for s in samples)

        def fail(
            reason: str, observed: tuple[str, ...] = ()
        ) -> tuple[LivenessResult, list[dict[str, Any]]]:
            return LivenessResult(False, reason, observed, worst), prints

        if len({p["sha"] for p in prints}) != len(prints):
            return fail("the same frame was sent twice")
        if worst > self._config.face_threshold:
            return fail("a frame does not match the enrolled face")
        seen = [p for data in history for p in (data or {}).get("frames", [])]
        seen_sha = {p["sha"] for p in seen}
        for p in prints:
            if p["sha"] in seen_sha:
                return fail("frames replayed from an earlier session")
            for old in seen:
                if same_geometry(p["geo"], old["geo"]):
                    return fail("frames replayed from an earlier session")
                if same_geometry(p["geo"], mirrored(old["geo"])):
                    return fail("mirrored frames from an earlier session")
        observed: list[str] = []
        for s in samples:
            pose = self._pose(s)
            if pose != "between" and (not observed or observed[-1] != pose):
                observed.append(pose)
        if observed != steps:
            return fail("head movements do not follow the challenge", tuple(observed))
        return LivenessResult(True, "ok", tuple(observed), worst), prints
