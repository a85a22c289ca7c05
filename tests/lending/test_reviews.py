"""Periodic limit review: re-scored through the credit port, moved by the policy, never below
what is in use; each decision a row, an event and a line in identity's audit chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from tests.lending.conftest import OPS, World, cny, key

from finbridge.core.errors import InsufficientFunds
from finbridge.identity import AuditLog
from finbridge.lake.tables import OutboxRow
from finbridge.lending import LendingService
from finbridge.lending.reviews import decide


@dataclass
class Notes:
    """Once per reference, as identity's inbox delivers (a retried review re-sends)."""

    sent: dict[str, str] = field(default_factory=dict)

    def notify(self, customer_id: str, *, title: str, body: str, reference: str) -> None:
        self.sent.setdefault(reference, title)


def _reviewing(world: World, engine: Engine) -> tuple[LendingService, AuditLog, Notes]:
    audit, notes = AuditLog(engine, world.clock, b"k" * 32), Notes()
    svc = LendingService(
        engine, world.clock, world.banking, checks=world.checks, scorer=world.scorer,
        risk=world.risk, audit=audit, notices=notes, review_every_days=30,
    )  # fmt: skip
    return svc, audit, notes


def test_the_rule_by_hand() -> None:
    # Policy raises: the policy's limit. Policy lowers: never below what is in use (to 100s).
    assert decide(2_000_000, 0, 5_000_000, [], "CNY") == ("raised", 5_000_000, [])
    outcome, new, reasons = decide(2_000_000, 900_050, 800_000, [], "CNY")
    assert (outcome, new) == ("lowered", 910_000) and "not to the policy's 8000" in reasons[0]
    assert decide(2_000_000, 2_000_000, None, ["below"], "CNY")[:2] == ("held", 2_000_000)
    assert decide(2_000_000, 0, None, ["below"], "CNY")[:2] == ("lowered", 0)


def test_review_lowers_to_what_is_used_raises_and_audits(world: World) -> None:
    svc, audit, notes = _reviewing(world, world.engine)
    line = world.line()  # score 700, medium income: 20,000.00
    assert line.limit == cny("20000.00")
    world.buy(line, "9000.00")

    world.scorer.score_value = 630  # policy: 8,000.00, but 9,000.00 is in use
    first = svc.reviews.review(OPS, line.id)
    assert (first.outcome, first.new_limit) == ("lowered", cny("9000.00"))
    assert first.score_model == "test_scorecard@1" and first.audit_seq
    assert svc.reviews.review(OPS, line.id).id == first.id  # once per line and date
    assert svc.line(OPS, line.id).limit == cny("9000.00")
    with pytest.raises(InsufficientFunds):  # the ledger floor moved with the limit
        svc.authorise_purchase(OPS, line.id, cny("0.01"), merchant="JD", idempotency_key=key())

    world.on(date(2026, 1, 7))
    world.scorer.score_value = 750
    second = svc.reviews.review(OPS, line.id)
    assert (second.outcome, second.new_limit) == ("raised", cny("50000.00"))
    assert [r.id for r in svc.reviews.reviews(OPS, line.id)] == [second.id, first.id]

    report = audit.verify()
    assert report.ok and report.checked == 2
    assert {e.outcome for e in audit.entries(subject=line.id)} == {"lowered", "raised"}
    assert list(notes.sent.values()) == [
        "Your credit line limit was lowered",
        "Your credit line limit was raised",
    ]
    with world.engine.connect() as conn:
        events = conn.execute(
            select(func.count()).where(OutboxRow.event_type == "lending.limit_reviewed")
        ).scalar_one()
    assert events == 2


def test_close_of_business_reviews_lines_due(sqlite_world: World) -> None:
    world = sqlite_world
    svc, audit, _ = _reviewing(world, world.engine)
    lines = [world.line(), world.line()]
    opened = lines[0].opened_on
    assert svc.reviews.review_due(opened + timedelta(days=29)) == {"reviewed": 0}
    assert svc.reviews.review_due(opened + timedelta(days=30)) == {"reviewed": 2, "kept": 2}
    assert audit.verify().checked == 2

    class Broken:
        def score(self, customer_id: str, applicant: dict[str, object]) -> None:
            raise RuntimeError("model file missing")

    svc._scorer = Broken()  # type: ignore[assignment]
    world.on(opened + timedelta(days=1))
    kept = svc.reviews.review(OPS, lines[0].id)  # the day goes on; the review says why
    assert kept.outcome == "kept" and "could not be re-scored (RuntimeError)" in kept.reasons[0]


def test_application_decisions_are_lines_in_the_audit_chain(world: World) -> None:
    svc, audit, _ = _reviewing(world, world.engine)
    cust, acc = world.customer()
    approved = svc.apply(
        OPS, cust, product_id="everyday@1", deposit_account_id=acc, income_band="medium",
        applicant={"LIMIT_BAL": 50000}, idempotency_key="a1",
    )  # fmt: skip
    world.scorer.score_value = 300  # below every band of the policy
    other, other_acc = world.customer()
    declined = svc.apply(
        OPS, other, product_id="everyday@1", deposit_account_id=other_acc,
        income_band="medium", applicant={"LIMIT_BAL": 50000}, idempotency_key="a2",
    )  # fmt: skip
    assert (approved.outcome, declined.outcome) == ("approved", "declined")
    again = svc.apply(
        OPS, cust, product_id="everyday@1", deposit_account_id=acc, income_band="medium",
        applicant={"LIMIT_BAL": 50000}, idempotency_key="a1",
    )  # fmt: skip
    assert again.id == approved.id  # a retry decides nothing, so it audits nothing
    mine = audit.entries(subject=cust)
    assert [(e.action, e.outcome) for e in mine] == [("lending.application", "approved")]
    assert [e.outcome for e in audit.entries(subject=other)] == ["declined"]
    assert audit.verify().ok and audit.verify().checked == 2
