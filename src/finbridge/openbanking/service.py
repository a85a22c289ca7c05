"""``OpenBankingService``: the engine's one entry point, built once by the platform."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine

from finbridge.banking import BankingService
from finbridge.core.clock import Clock
from finbridge.core.errors import ValidationError
from finbridge.core.principal import Principal
from finbridge.core.settings import Settings
from finbridge.openbanking.apps import AppRegistry
from finbridge.openbanking.audit import AuditTrail
from finbridge.openbanking.developers import DeveloperDirectory
from finbridge.openbanking.keys import public_jwks, server_key
from finbridge.openbanking.ports import CrossBorderPort, PartnerKeyPort, SecondFactorPort
from finbridge.openbanking.proofs import ClientAssertionCheck, DPoPCheck, ReplayStore
from finbridge.openbanking.resources import ResourceService
from finbridge.openbanking.sandbox import Sandbox, SandboxBank
from finbridge.openbanking.server import AuthorizationServer, Lifetimes
from finbridge.openbanking.usage import UsageMeter
from finbridge.openbanking.webhooks import WebhookService


class OpenBankingService:
    """Apps, the authorisation server, consents and the third-party resource APIs."""

    def __init__(
        self,
        *,
        apps: AppRegistry,
        server: AuthorizationServer,
        resources: ResourceService,
        audit: AuditTrail,
        replay: ReplayStore,
        jwks: dict[str, object],
        webhooks: WebhookService,
        usage: UsageMeter,
        sandbox: SandboxBank,
        developers: DeveloperDirectory,
    ) -> None:
        self.apps = apps
        self.server = server
        self.resources = resources
        self.audit = audit
        self.replay = replay
        self.jwks = jwks
        self.webhooks = webhooks
        self.usage = usage
        self.sandbox = sandbox
        self.developers = developers

    def close(self) -> None:
        """Write this process's pending usage counts (the platform calls it on close)."""
        self.usage.close()

    def connect(self, actor: Principal, client_id: str) -> str:
        """The app store's one-click connect: the app's login initiation URL for this issuer."""
        return self.apps.initiate_login(actor, client_id, issuer=self.server.issuer)

    def authorise_in_sandbox(
        self,
        actor: Principal,
        *,
        client_id: str,
        request_uri: str,
        customer_id: str,
        account_ids: Sequence[str],
    ) -> str:
        """The sandbox's consent step (the app's developer, as a synthetic customer of its own
        sandbox): the redirect URL with the code, as the consent screen would send the browser
        to. The accounts are the app's developer's sandbox's, whoever of its managers acts."""
        developer = self.apps.sandbox_developer(actor, client_id)
        return self.server.approve_sandbox(
            actor, request_uri, client_id, customer_id, account_ids,
            sandbox_accounts=self.sandbox.currencies(developer, customer_id),
            creditor_accounts=self.sandbox.every_account(developer),
        )  # fmt: skip

    def sandbox_of(self, actor: Principal, developer: str | None = None) -> Sandbox:
        """A developer's sandbox (``openbanking:write``), seeded on first use: the actor's
        own, or with ``openbanking:admin`` any ``developer``'s."""
        return self.sandbox.sandbox(_sandbox_developer(actor, developer))

    def reset_sandbox(self, actor: Principal, developer: str | None = None) -> Sandbox:
        """Put a developer's sandbox back as seeded (the actor's own, or with
        ``openbanking:admin`` any ``developer``'s); others' sandboxes are not touched. The
        sandbox as it now is."""
        owner = _sandbox_developer(actor, developer)
        self.sandbox.reset(owner)
        return self.sandbox.sandbox(owner)

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        banking: BankingService,
        second_factor: SecondFactorPort,
        cross_border: CrossBorderPort | None = None,
        partner_keys: PartnerKeyPort | None = None,
    ) -> OpenBankingService:
        cfg = settings.openbanking
        key = server_key(settings)
        audit = AuditTrail(engine, clock)
        replay = ReplayStore(engine, clock)
        apps = AppRegistry(engine, clock, production=settings.env == "production")
        issuer = cfg.issuer.rstrip("/")
        nonce_secret = hashlib.sha256(
            b"finbridge-dpop-nonce:" + settings.secret_key.get_secret_value().encode()
        ).digest()
        dpop = DPoPCheck(
            clock,
            replay,
            nonce_secret,
            window=timedelta(seconds=cfg.proof_window_seconds),
            require_nonce=cfg.require_dpop_nonce,
        )
        server = AuthorizationServer(
            engine,
            clock,
            issuer=issuer,
            key=key,
            apps=apps,
            assertions=ClientAssertionCheck(issuer, clock, replay),
            dpop=dpop,
            audit=audit,
            second_factor=second_factor,
            lifetimes=Lifetimes(
                access=timedelta(seconds=cfg.access_token_seconds),
                refresh=timedelta(seconds=cfg.refresh_token_seconds),
                code=timedelta(seconds=cfg.code_seconds),
                request=timedelta(seconds=cfg.request_seconds),
            ),
            beneficiary_rule=None if cross_border is None else cross_border.check_beneficiary,
        )
        sandbox = SandboxBank(engine, clock)
        resources = ResourceService(
            engine, clock, banking, server, audit, cross_border=cross_border, sandbox=sandbox
        )
        return cls(
            apps=apps,
            server=server,
            resources=resources,
            audit=audit,
            replay=replay,
            jwks=public_jwks(key),
            webhooks=WebhookService(
                engine,
                clock,
                settings.secret_key.get_secret_value(),
                production=settings.env == "production",
            ),
            usage=UsageMeter(engine, clock, business_timezone=settings.business_timezone),
            sandbox=sandbox,
            developers=DeveloperDirectory(engine, clock, partner_keys),
        )


def _sandbox_developer(actor: Principal, developer: str | None) -> str:
    actor.require_scope("openbanking:write")
    if developer is not None and not developer.strip():
        raise ValidationError("name the developer whose sandbox this is", field="developer")
    if developer is None or developer == actor.id:
        return actor.id
    actor.require_scope("openbanking:admin")  # operators look after any developer's sandbox
    return developer
