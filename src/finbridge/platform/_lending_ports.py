"""Lending's ports, filled from the other engines' faces, and the close-of-business steps.

Lending declares what it needs (``finbridge.lending.ports``); this module adapts identity
(consent, KYC, age), credit (the live scorecard) and risk (a ``credit_application`` decision)
to it, and lists the bank's day: banking's hold expiry and interest, lending's steps, banking's
monthly capitalisation and the outbox purge.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from finbridge.banking import BankingService
from finbridge.core.errors import FinbridgeError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lending import (
    ApplicantCheck,
    CobRunner,
    CobStep,
    CreditScore,
    FunctionStep,
    LendingDay,
    LendingService,
    RiskOpinion,
)
from finbridge.platform._learning import learning_steps

if TYPE_CHECKING:
    from finbridge.platform._root import Platform

_ACTOR = Principal.system("lending")
# How long published outbox rows stay after the lake has them (the relay's own safety margin).
OUTBOX_KEEP = timedelta(days=7)


class IdentityApplicantChecks:
    """Consent to credit assessment, verified KYC and age 18+, each refusal in words."""

    def __init__(self, platform: Platform, purpose: str) -> None:
        self._platform = platform
        self._purpose = purpose

    def check(self, customer_id: str) -> ApplicantCheck:
        identity = self._platform.identity
        refusals: list[str] = []
        if not identity.consents.has_consent(customer_id, self._purpose):
            refusals.append(f"no consent to {self._purpose.replace('_', ' ')} is on record")
        try:
            view = identity.persons.view(_ACTOR, customer_id)
        except FinbridgeError:
            return ApplicantCheck((*refusals, "no verified identity (KYC) is on record"))
        if view.kyc_status != "verified":
            refusals.append(f"identity (KYC) is {view.kyc_status}, not verified")
        try:
            identity.persons.require_adult(customer_id)
        except FinbridgeError:
            refusals.append("the applicant is under 18")
        return ApplicantCheck(tuple(refusals))


class CreditModelScorer:
    """The live version of the configured scorecard, through credit's consent-checked face."""

    def __init__(self, platform: Platform, model_name: str) -> None:
        self._platform = platform
        self._model = model_name

    def score(self, customer_id: str, applicant: dict[str, Any]) -> CreditScore:
        decision = self._platform.credit.score(
            _ACTOR, self._model, applicant, customer_id=customer_id
        )
        return CreditScore(
            decision.score, f"{decision.model_name}@{decision.version}", tuple(decision.reasons)
        )


class RiskApplicationCheck:
    """A ``credit_application`` decision from the risk engine (lists, velocity, rules)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def assess(self, customer_id: str, requested: Money, event_id: str) -> RiskOpinion:
        decision = self._platform.risk.decide(
            _ACTOR,
            {
                "event_type": "credit_application",
                "occurred_at": self._platform.clock.now().isoformat(),
                "customer_id": customer_id,
                "event_id": event_id,
                "amount": str(requested.amount),
                "currency": requested.code,
            },
        )
        return RiskOpinion(decision.outcome, tuple(decision.reasons))


class IdentityAudit:
    """Identity's hash-chained audit log, appended in lending's own transaction."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def append(
        self, session: Session, *, actor: str, action: str, subject: str | None, outcome: str,
        detail: dict[str, Any],
    ) -> int:  # fmt: skip
        return self._platform.identity.audit.append(
            session, actor=actor, action=action, subject=subject, outcome=outcome, detail=detail
        )


class IdentityNotices:
    """Identity's customer inbox (once per reference: a retried notice is not doubled)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def notify(self, customer_id: str, *, title: str, body: str, reference: str) -> None:
        self._platform.identity.inbox.deliver(
            _ACTOR, customer_id, kind="lending", title=title, body=body, ref=reference
        )


def build_lending(platform: Platform) -> LendingService:
    settings = platform.settings.lending
    return LendingService(
        platform.engine,
        platform.clock,
        platform.banking,
        checks=IdentityApplicantChecks(platform, settings.consent_purpose),
        scorer=CreditModelScorer(platform, settings.score_model),
        risk=RiskApplicationCheck(platform),
        business_timezone=platform.settings.business_timezone,
        # The bank's own charges are not customer movements: no posting guard (as banking's
        # own interest), so the close of business never waits on a risk decision.
        bank_postings=BankingService(
            platform.engine, platform.clock, business_timezone=platform.settings.business_timezone
        ),
        audit=IdentityAudit(platform),
        notices=IdentityNotices(platform),
    )


def build_cob(platform: Platform) -> CobRunner:
    lending = platform.lending
    return CobRunner(
        platform.engine,
        platform.clock,
        cob_steps(platform),
        business_timezone=platform.settings.business_timezone,
        first_date=lending.first_opened,
    )


def cob_steps(platform: Platform) -> list[CobStep]:
    """The bank's day, in order. Every step is idempotent for its date."""
    banking = platform.banking

    def expire_holds(day: date) -> dict[str, Any]:
        return {"expired": banking.expire_holds(_ACTOR)}

    def expire_approvals(day: date) -> dict[str, Any]:
        # Dual-control requests nobody approved in time: closed and audited, not left to
        # whoever looks next (an expired request can never post).
        return {"expired": banking.expire_approvals(Principal.system("close-of-business"))}

    def accrue_deposit_interest(day: date) -> dict[str, Any]:
        return {"accounts": banking.accrue_interest(_ACTOR, business_day=day).accounts}

    def capitalise(day: date) -> dict[str, Any]:
        if day.day != calendar.monthrange(day.year, day.month)[1]:
            return {"skipped": "not month end"}
        return {"entries": banking.capitalise_interest(_ACTOR, day.year, day.month)}

    def settle_merchants(day: date) -> dict[str, Any]:
        folder = platform.settings.data_dir / "settlements"
        return platform.payments.settlement.run_day(_ACTOR, day, folder).summary()

    def purge_outbox(day: date) -> dict[str, Any]:
        from finbridge.lake import OutboxRelay

        relay = OutboxRelay(platform.engine, platform.events.lake, clock=platform.clock)
        return {"purged": relay.purge_published(OUTBOX_KEEP)}

    def settle_fund_orders(day: date) -> dict[str, Any]:
        return {"settled": len(platform.advisory.settle_due(_ACTOR, day))}

    def rebalance_opted_in(day: date) -> dict[str, Any]:
        run = platform.advisory.rebalance_automatically(_ACTOR, day)
        return {"opted_in": run.opted_in, "drifted": run.drifted,
                "rebalanced": len(run.rebalanced), "skipped": len(run.skipped)}  # fmt: skip

    return [
        FunctionStep("banking.expire_holds", expire_holds),
        FunctionStep("banking.expire_approvals", expire_approvals),
        FunctionStep("banking.accrue_interest", accrue_deposit_interest),
        *LendingDay(platform.lending).steps(),
        # Fund orders settle before the drift check, so it sees the units they bought.
        FunctionStep("advisory.settle_orders", settle_fund_orders),
        FunctionStep("advisory.rebalance_opted_in", rebalance_opted_in),
        # The day's merchant payments and refunds, one file per merchant, reconciled.
        FunctionStep("payments.settle_merchants", settle_merchants),
        FunctionStep("banking.capitalise_interest", capitalise),
        *learning_steps(platform),  # the day's model monitors, retraining on its cadence
        FunctionStep("lake.purge_outbox", purge_outbox),
    ]
