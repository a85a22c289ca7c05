"""Identity policy knobs, built from :class:`Settings` once and passed to the services."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from finbridge.core.settings import IdentitySettings, Settings

# Actions that need a fresh second factor (issue 3: large transfers, changing phone, buying above
# one's risk level, adding a payee). Engines tag their actions with these names.
HIGH_RISK_ACTIONS: frozenset[str] = frozenset(
    {
        "transfer.large",
        "profile.change_phone",
        "investment.above_risk_level",
        "payee.add",
        "credentials.change",
    }
)


_DEFAULT_ORIGINS = ("http://localhost:8000", "http://127.0.0.1:8000")


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    # argon2id (RFC 9106 second recommended option is t=3, m=64 MiB, p=4)
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4
    # brute force: after `lockout_after` failures each further failure locks for base * 2^(n-k)
    lockout_after: int = 5
    lockout_base: timedelta = timedelta(seconds=30)
    lockout_max: timedelta = timedelta(hours=1)
    login_challenge_ttl: timedelta = timedelta(minutes=5)
    second_factor_max_attempts: int = 5
    access_token_ttl: timedelta = timedelta(minutes=5)
    session_ttl: timedelta = timedelta(days=30)
    issuer: str = "finbridge"
    step_up_window: timedelta = timedelta(minutes=5)
    high_risk_actions: frozenset[str] = field(default=HIGH_RISK_ACTIONS)
    # WebAuthn relying party
    rp_id: str = "localhost"
    rp_name: str = "finbridge"
    origins: tuple[str, ...] = _DEFAULT_ORIGINS
    # face
    face_threshold: float = 0.52  # see docs/benchmarks.md ## Identity for the sweep
    face_max_side: int = 640
    liveness_ttl: timedelta = timedelta(minutes=2)
    liveness_turns: int = 3  # random left/right turns, each followed by facing the camera
    liveness_turn_yaw: float = 0.09  # |yaw| at or above: turned (see face.yaw)
    liveness_center_yaw: float = 0.05  # |yaw| at or below: facing the camera
    liveness_max_frames: int = 20
    totp_issuer: str = "finbridge"

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityConfig:
        serve = settings.serve
        config = cls(origins=(f"http://{serve.host}:{serve.port}", *_DEFAULT_ORIGINS))
        if settings.identity.password_hashing == "fast":  # noqa: S105 - a mode, not a secret
            # Tiny argon2id costs keep a test suite fast; Settings refuses this in production.
            config = replace(
                config, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
            )
        return config.with_overrides(settings.identity)

    def with_overrides(self, knobs: IdentitySettings) -> IdentityConfig:
        """Apply the operator's knobs; unset ones keep their defaults."""
        changes: dict[str, object] = {}
        if knobs.face_threshold is not None:
            changes["face_threshold"] = knobs.face_threshold
        if knobs.step_up_window_seconds is not None:
            changes["step_up_window"] = timedelta(seconds=knobs.step_up_window_seconds)
        if knobs.access_token_ttl_seconds is not None:
            changes["access_token_ttl"] = timedelta(seconds=knobs.access_token_ttl_seconds)
        if knobs.lockout_after is not None:
            changes["lockout_after"] = knobs.lockout_after
        if knobs.rp_id:
            changes["rp_id"] = knobs.rp_id
        if knobs.origins:
            changes["origins"] = tuple(o.strip() for o in knobs.origins if o.strip())
        return replace(self, **changes)  # type: ignore[arg-type]
