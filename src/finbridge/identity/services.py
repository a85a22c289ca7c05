"""Composition: every identity service built from one engine, clock and settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.settings import Settings
from finbridge.identity.audit import AuditLog
from finbridge.identity.config import IdentityConfig
from finbridge.identity.consent import ConsentService
from finbridge.identity.credentials import PasswordService, TotpService
from finbridge.identity.faceauth import FaceService
from finbridge.identity.login import LoginService
from finbridge.identity.passkeys import PasskeyService
from finbridge.identity.persons import CustomerFactory, PersonService
from finbridge.identity.sessions import SessionService
from finbridge.identity.stepup import StepUpService
from finbridge.identity.tokens import TokenSigner
from finbridge.identity.vault import PiiVault


@dataclass
class IdentityServices:
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

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        config: IdentityConfig | None = None,
        vault: PiiVault | None = None,
        customer_factory: CustomerFactory | None = None,
    ) -> IdentityServices:
        config = config or IdentityConfig.from_settings(settings)
        vault = vault or PiiVault.from_settings(settings)
        audit = AuditLog.from_settings(engine, clock, settings)
        persons = PersonService(
            engine,
            clock,
            vault,
            audit,
            customer_factory=customer_factory,
            business_timezone=settings.business_timezone,
        )
        passwords = PasswordService(engine, clock, audit, config)
        totp = TotpService(engine, clock, vault, audit, config)
        signer = TokenSigner(
            engine, clock, vault, issuer=config.issuer, ttl=config.access_token_ttl
        )
        sessions = SessionService(engine, clock, signer, audit, config)
        step_up = StepUpService(engine, clock, totp, audit, config)
        passkeys = PasskeyService(engine, clock, audit, config, step_up)
        consents = ConsentService(engine, clock, audit)
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
                engine, clock, persons, passwords, totp, sessions, audit, config, passkeys
            ),
            step_up=step_up,
            passkeys=passkeys,
            face=FaceService(engine, clock, vault, audit, config, consents, step_up),
        )
