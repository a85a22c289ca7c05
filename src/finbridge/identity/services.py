"""Composition: every identity service built from one engine, clock and settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.principal import Principal
from finbridge.core.ratelimit import RateLimiter
from finbridge.core.settings import Settings
from finbridge.identity.apikeys import ApiKeyService, VerifiedKeys
from finbridge.identity.audit import AuditLog
from finbridge.identity.authenticator import Authenticator
from finbridge.identity.config import IdentityConfig
from finbridge.identity.consent import ConsentService
from finbridge.identity.console_sessions import ConsoleSessions
from finbridge.identity.credentials import PasswordService, TotpService
from finbridge.identity.faceauth import FaceService
from finbridge.identity.inbox import InboxService
from finbridge.identity.login import LoginService
from finbridge.identity.passkeys import PasskeyService
from finbridge.identity.persons import PersonService
from finbridge.identity.ports import CustomerFactory
from finbridge.identity.privacy import PrivacyRequests
from finbridge.identity.sessions import SessionService
from finbridge.identity.status import StatusService
from finbridge.identity.stepup import StepUpService
from finbridge.identity.tokens import TokenSigner
from finbridge.identity.vault import PiiVault


@dataclass
class IdentityServices:
    """Identity's face for the platform: one instance per process, thread-safe services."""

    config: IdentityConfig
    vault: PiiVault
    audit: AuditLog
    persons: PersonService
    consents: ConsentService
    passwords: PasswordService
    totp: TotpService
    signer: TokenSigner
    sessions: SessionService
    login: LoginService
    step_up: StepUpService
    passkeys: PasskeyService
    face: FaceService
    api_keys: ApiKeyService
    console_sessions: ConsoleSessions
    authenticator: Authenticator
    status: StatusService
    inbox: InboxService
    privacy: PrivacyRequests

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        config: IdentityConfig | None = None,
        vault: PiiVault | None = None,
        customers: CustomerFactory | None = None,
        api_keys: ApiKeyService | None = None,
    ) -> IdentityServices:
        """Build every service; nothing heavy (face models load on first use).

        ``customers`` opens the banking customer on registration (the platform wires banking
        here); without it identity mints customer ids itself. ``api_keys`` may be shared with
        another holder of the verified-key cache; by default one is built from the settings.
        """
        config = config or IdentityConfig.from_settings(settings)
        vault = vault or PiiVault.from_settings(settings)
        audit = AuditLog.from_settings(engine, clock, settings)
        passwords = PasswordService(engine, clock, audit, config)
        persons = PersonService(
            engine,
            clock,
            vault,
            audit,
            passwords=passwords,
            customers=customers,
            business_timezone=settings.business_timezone,
        )
        totp = TotpService(engine, clock, vault, audit, config)
        signer = TokenSigner(
            engine, clock, vault, issuer=config.issuer, ttl=config.access_token_ttl
        )
        sessions = SessionService(engine, clock, signer, audit, config)
        step_up = StepUpService(engine, clock, totp, audit, config)
        passkeys = PasskeyService(engine, clock, audit, config, step_up)
        consents = ConsentService(engine, clock, audit)
        api_keys = api_keys or ApiKeyService(
            engine,
            clock,
            settings.secret_key.get_secret_value(),
            VerifiedKeys(settings.api.key_cache_seconds),
        )
        console_sessions = ConsoleSessions(clock)
        face = FaceService(engine, clock, vault, audit, config, consents, step_up)
        return cls(
            config=config,
            vault=vault,
            audit=audit,
            persons=persons,
            consents=consents,
            passwords=passwords,
            totp=totp,
            signer=signer,
            sessions=sessions,
            login=LoginService(
                engine, clock, persons, passwords, totp, sessions, audit, config, passkeys, face
            ),
            step_up=step_up,
            passkeys=passkeys,
            face=face,
            api_keys=api_keys,
            console_sessions=console_sessions,
            authenticator=Authenticator(
                engine,
                clock,
                api_keys,
                sessions,
                console_sessions,
                limiter=RateLimiter(settings.rate_limits, settings.redis_url),
            ),
            status=StatusService(persons, sessions, consents, audit),
            inbox=InboxService(engine, clock, audit),
            privacy=PrivacyRequests(engine, clock, audit),
        )

    def authenticate(self, credential: str) -> Principal:
        """Who ``credential`` (API key, customer access token, console session id) belongs to."""
        return self.authenticator.authenticate(credential)

    def close(self) -> None:
        """Forget console sessions (they live in memory); the platform closes the engine."""
        self.console_sessions.close()
