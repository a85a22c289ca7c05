"""Suitability enforced in the service, on SQLite and PostgreSQL, with evidence per match."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.advisory.conftest import BALANCED, FakeSecondFactor, new_customer

from finbridge.advisory import AdvisoryService, SuitabilityRefused
from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import NotFound, PermissionDenied, StepUpRequired, ValidationError

SYSTEM = Principal.system("test")


def profiled(service: AdvisoryService, **changes: object) -> tuple[str, Principal]:
    customer = new_customer(service)
    service.submit_profile(SYSTEM, customer, {**BALANCED, **changes})
    return customer, Principal.customer(customer, session_id=f"s-{customer}")


def test_profile_is_stored_with_answers_version_and_expiry(
    service: AdvisoryService, clock: ManualClock
) -> None:
    customer = new_customer(service)
    me = Principal.customer(customer)
    made = service.submit_profile(me, customer, BALANCED)
    read = service.profile(me, customer)
    assert read.id == made.id
    assert (read.category, read.score, read.questionnaire_version) == ("C3", 34, "2026-12-v1")
    assert read.answers == BALANCED
    assert read.expires_at - read.assessed_at == timedelta(days=365)
    assert not read.expired
    clock.advance(timedelta(days=366))
    assert service.profile(me, customer).expired


def test_bad_answers_write_nothing(service: AdvisoryService) -> None:
    customer = new_customer(service)
    with pytest.raises(ValidationError) as info:
        service.submit_profile(SYSTEM, customer, {**BALANCED, "age": 300})
    assert info.value.field == "answers.age"
    with pytest.raises(NotFound):
        service.profile(SYSTEM, customer)


def test_within_level_is_a_match_with_evidence(service: AdvisoryService) -> None:
    customer, me = profiled(service)  # C3
    decision = service.check_suitability(me, customer, "LQD")  # R3
    assert decision.allowed and decision.outcome == "match"
    assert decision.category == "C3" and decision.product_level == "R3"
    [stored] = service.evidence(SYSTEM, customer_id=customer)
    assert stored.id == decision.id and stored.allowed


def test_above_level_needs_warning_confirmation_and_second_factor(
    service: AdvisoryService, second_factor: FakeSecondFactor
) -> None:
    customer, me = profiled(service)  # C3
    first = service.check_suitability(me, customer, "SPY")  # R4
    assert not first.allowed and first.outcome == "warning_required"
    assert first.warning is not None and "R4" in first.warning.text_en and first.warning.text_zh
    # confirming without the warning's code, or another product's code, is not enough
    assert not service.check_suitability(me, customer, "SPY", confirmed=True).allowed
    other = service.check_suitability(me, customer, "GLD").warning
    assert other is not None and other.code != first.warning.code
    wrong = service.check_suitability(me, customer, "SPY", warning_code=other.code, confirmed=True)
    assert not wrong.allowed and "does not match" in wrong.reasons[0]
    # the right code without confirmation is not enough either
    unconfirmed = service.check_suitability(me, customer, "SPY", warning_code=first.warning.code)
    assert not unconfirmed.allowed
    # confirmed, but no fresh second factor: refused, and the refusal is evidence too
    with pytest.raises(StepUpRequired):
        service.check_suitability(
            me, customer, "SPY", warning_code=first.warning.code, confirmed=True
        )
    second_factor.fresh.add(me.session_id or "")
    ok = service.check_suitability(
        me, customer, "SPY", warning_code=first.warning.code, confirmed=True
    )
    assert ok.allowed and ok.outcome == "above_level_confirmed"
    assert ok.confirmed and ok.second_factor
    assert "advisory.above_level" in {a for _, a in second_factor.asked}
    trail = service.evidence(SYSTEM, customer_id=customer, product_code="SPY")
    assert [d.outcome for d in trail][:2] == ["above_level_confirmed", "warning_required"]
    assert trail[0].warning is not None and trail[0].warning.code == first.warning.code


def test_c1_never_above_r1_even_confirmed(
    service: AdvisoryService, second_factor: FakeSecondFactor
) -> None:
    customer, me = profiled(service, experience_years="none")  # capped to C1
    second_factor.fresh.add(me.session_id or "")
    assert service.check_suitability(me, customer, "SHV").allowed
    refused = service.check_suitability(me, customer, "SHY", warning_code="x", confirmed=True)
    assert not refused.allowed and refused.outcome == "refused_c1"
    with pytest.raises(SuitabilityRefused) as info:
        service.require_suitable(me, customer, "SSO", confirmed=True)
    assert info.value.extra["outcome"] == "refused_c1"


def test_expired_or_missing_profile_blocks(service: AdvisoryService, clock: ManualClock) -> None:
    customer = new_customer(service)
    assert service.check_suitability(SYSTEM, customer, "SHV").outcome == "no_profile"
    service.submit_profile(SYSTEM, customer, BALANCED)
    clock.advance(timedelta(days=365))
    decision = service.check_suitability(SYSTEM, customer, "SHV")
    assert decision.outcome == "profile_expired" and not decision.allowed
    service.submit_profile(SYSTEM, customer, BALANCED)  # redone: allowed again
    assert service.check_suitability(SYSTEM, customer, "SHV").allowed


def test_only_the_investor_confirms_above_level(service: AdvisoryService) -> None:
    customer, me = profiled(service)
    teller = Principal.operator("op-1", [Role.ADMIN])
    warning = service.check_suitability(me, customer, "SPY").warning
    assert warning is not None
    by_staff = service.check_suitability(
        teller, customer, "SPY", warning_code=warning.code, confirmed=True
    )
    assert not by_staff.allowed and "only the investor" in by_staff.reasons[0]


def test_authorisation(service: AdvisoryService) -> None:
    customer, me = profiled(service)
    _other, stranger = profiled(service)
    with pytest.raises(NotFound):
        service.profile(stranger, customer)
    with pytest.raises(NotFound):
        service.check_suitability(stranger, customer, "SHV")
    service.check_suitability(me, customer, "SHV")
    assert service.evidence(stranger) == []  # only their own, and they have none
    assert len(service.evidence(me)) == 1
    quant = Principal.operator("q", [Role.QUANT_RESEARCHER])
    with pytest.raises(PermissionDenied):
        service.profile(quant, customer)
    with pytest.raises(NotFound):
        service.profile(SYSTEM, "no-such-customer")
    with pytest.raises(ValidationError):
        service.check_suitability(me, customer, "SHV", channel="carrier pigeon")
    with pytest.raises(NotFound) as info:
        service.check_suitability(me, customer, "NOPE")
    assert info.value.field == "product_code"
