"""Registration (PII sealed, duplicates refused), consents, and the hash-chained audit log."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, select, text

from finbridge.core import Principal, Role
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.identity.consent import ConsentRequired
from finbridge.identity.services import IdentityServices
from finbridge.identity.tables import PersonRow
from finbridge.lake.tables import OutboxRow
from finbridge.store import unit_of_work

from .conftest import LI, ZHANG

TELLER = Principal.operator("op-teller", [Role.TELLER])
ADMIN = Principal.operator("op-admin", [Role.ADMIN])


def test_register_seals_pii_and_returns_masked_view(ids: IdentityServices, engine: Engine) -> None:
    view = ids.persons.register(ZHANG)
    assert view.id_number == "110***********4477"
    assert view.phone == "138****5678" and view.name == "张**"
    assert view.cards == ("622202*********0128",)
    assert view.kyc_status == "pending" and view.birth_year == 1990
    with unit_of_work(engine, write=False) as s:
        raw = " ".join(str(v) for v in s.execute(text("SELECT * FROM identity_persons")).one())
        raw += " ".join(str(v) for v in s.execute(text("SELECT * FROM identity_bank_cards")).one())
        events = s.scalars(select(OutboxRow.event_type)).all()
    for secret in (
        "110101199003074477",
        "13812345678",
        "张三丰",
        "6222021234567890128",
        "1990-03-07",
    ):
        assert secret not in raw
    assert "identity.customer_registered" in events
    assert ids.persons.find_by_phone("+86 138 1234 5678") == view.customer_id
    assert ids.persons.find_by_document("prc_resident_id", "110101199003074477") == view.customer_id


def test_duplicates_refused_and_audited(ids: IdentityServices, engine: Engine) -> None:
    ids.persons.register(ZHANG)
    with pytest.raises(Conflict, match="already registered") as info:
        ids.persons.register(dataclasses.replace(ZHANG, phone="13700000000"))
    assert info.value.field == "id_number"
    with pytest.raises(Conflict, match="mobile number") as info:
        ids.persons.register(dataclasses.replace(LI, phone=ZHANG.phone))
    assert info.value.field == "phone"
    with unit_of_work(engine, write=False) as s:
        assert s.scalar(select(text("count(*)")).select_from(PersonRow)) == 1
    refused = [e for e in ids.audit.entries() if e.outcome == "refused"]
    assert len(refused) == 2


def test_bad_registration_names_field_and_changes_nothing(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    with pytest.raises(ValidationError, match="check digit") as info:
        ids.persons.register(dataclasses.replace(ZHANG, id_number="110101199003074478"))
    assert info.value.field == "id_number"
    with pytest.raises(ValidationError, match="Luhn") as info:
        ids.persons.register(dataclasses.replace(ZHANG, card_number="6222021234567890127"))
    assert info.value.field == "card_number"
    assert ids.persons.find_by_phone(ZHANG.phone) is None
    assert [e.outcome for e in ids.audit.entries()] == ["refused", "refused"]


def test_object_level_access_and_audited_reveal(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    zhang = ids.persons.register(ZHANG)
    li = ids.persons.register(LI)
    me = Principal.customer(zhang.customer_id)
    assert ids.persons.view(me, zhang.customer_id).phone == "138****5678"
    with pytest.raises(NotFound):  # BOLA: another customer's id looks like it does not exist
        ids.persons.view(me, li.customer_id)
    assert ids.persons.reveal(me, zhang.customer_id, "phone", "show my number") == "13812345678"
    with pytest.raises(PermissionDenied, match="identity:reveal"):
        ids.persons.reveal(TELLER, zhang.customer_id, "id_number", "curious")
    assert ids.persons.reveal(ADMIN, zhang.customer_id, "id_number", "court order 17") == (
        "110101199003074477"
    )
    reveals = [e for e in ids.audit.entries(subject=zhang.customer_id) if e.action == "pii.reveal"]
    assert sorted(e.outcome for e in reveals) == ["refused", "success", "success"]


def test_kyc_verify_and_adult_check(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    zhang = ids.persons.register(ZHANG)
    with pytest.raises(PermissionDenied):
        ids.persons.verify_kyc(Principal.customer(zhang.customer_id), zhang.customer_id)
    assert ids.persons.verify_kyc(TELLER, zhang.customer_id).kyc_status == "verified"
    ids.persons.require_adult(zhang.customer_id)
    young = dataclasses.replace(LI, id_number="110101201001010015", phone="13600000000")
    young_id = ids.persons.register(young).customer_id
    with pytest.raises(ValidationError, match="at least 18"):
        ids.persons.require_adult(young_id)


def test_hk_and_passport_customers(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    from datetime import date

    hk = ids.persons.register(
        dataclasses.replace(
            LI,
            name="Chan Tai Man",
            id_type="hk_id",
            id_number="A123456(3)",
            birth_date=date(1985, 6, 1),
            phone="13500000000",
        )
    )
    assert hk.id_country == "HKG" and hk.id_number == "A*****63"
    pp = ids.persons.register(
        dataclasses.replace(
            LI,
            name="Anna Müller",
            id_type="passport",
            id_number="C01X00T47",
            country="DEU",
            birth_date=date(1990, 1, 1),
            document_expires=date(2031, 1, 1),
            phone="13400000000",
        )
    )
    assert pp.id_country == "DEU" and pp.name == "A*** M*****"


def test_consents(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    zhang = ids.persons.register(ZHANG)
    me = Principal.customer(zhang.customer_id)
    with pytest.raises(ConsentRequired, match="credit_scoring"):
        ids.consents.require_consent(zhang.customer_id, "credit_scoring")
    consent = ids.consents.grant(me, zhang.customer_id, "credit_scoring", ["partner_spending"])
    ids.consents.require_consent(zhang.customer_id, "credit_scoring", "partner_spending")
    with pytest.raises(ConsentRequired):
        ids.consents.require_consent(zhang.customer_id, "credit_scoring", "face")
    other = Principal.customer("someone-else")
    with pytest.raises(NotFound):
        ids.consents.withdraw(other, zhang.customer_id, consent.id)
    withdrawn = ids.consents.withdraw(me, zhang.customer_id, consent.id)
    assert withdrawn.withdrawn_at is not None
    with pytest.raises(ConsentRequired):
        ids.consents.require_consent(zhang.customer_id, "credit_scoring")
    with pytest.raises(ValidationError) as info:
        ids.consents.grant(me, zhang.customer_id, "Marketing!", ["x1"])
    assert info.value.field == "purpose"
    assert [c.active for c in ids.consents.list(me, zhang.customer_id)] == [False]


def _tamper(engine: Engine, sql: str) -> None:
    """An attacker with database rights: disable the append-only triggers, then edit."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE identity_audit_log DISABLE TRIGGER USER"))
            conn.execute(text(sql))
            conn.execute(text("ALTER TABLE identity_audit_log ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER identity_audit_no_update"))
            conn.execute(text("DROP TRIGGER identity_audit_no_delete"))
            conn.execute(text(sql))


def _five_records(ids: IdentityServices) -> None:
    for i in range(5):
        ids.audit.record(actor="t", action=f"a{i}", subject="s", outcome="success", detail={"n": i})


def test_audit_chain_verifies(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    _five_records(ids)
    report = ids.audit.verify()
    assert report.ok and report.checked == 5 and report.first_bad_seq is None


def test_audit_table_refuses_update_and_delete(ids: IdentityServices, engine: Engine) -> None:
    _five_records(ids)
    with pytest.raises(Exception, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("UPDATE identity_audit_log SET outcome = 'failure'"))
    with pytest.raises(Exception, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM identity_audit_log WHERE seq = 2"))


@pytest.mark.parametrize(
    ("sql", "bad_seq", "problem"),
    [
        ("UPDATE identity_audit_log SET outcome = 'failure' WHERE seq = 3", 3, "modified"),
        ("DELETE FROM identity_audit_log WHERE seq = 2", 3, "deleted"),
        # reorder: swap the contents of records 2 and 4 (keeping seq numbers)
        (
            "UPDATE identity_audit_log SET action = CASE seq WHEN 2 THEN 'a3' WHEN 4 THEN 'a1' END,"
            " detail = CASE seq WHEN 2 THEN (SELECT detail FROM identity_audit_log WHERE seq = 4)"
            " ELSE (SELECT detail FROM identity_audit_log WHERE seq = 2) END WHERE seq IN (2, 4)",
            2,
            "modified",
        ),
    ],
)
def test_audit_detects_tampering(
    ids: IdentityServices, engine: Engine, sql: str, bad_seq: int, problem: str
) -> None:
    _five_records(ids)
    _tamper(engine, sql)
    report = ids.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert problem in report.problems[0]


def test_audit_truncation_detected_against_recorded_head(
    ids: IdentityServices, engine: Engine
) -> None:
    _five_records(ids)
    head = ids.audit.head()
    assert head[0] == 5 and ids.audit.verify(anchor=head).ok
    _tamper(engine, "DELETE FROM identity_audit_log WHERE seq >= 4")
    assert ids.audit.verify().ok  # a shorter chain is still a valid chain...
    report = ids.audit.verify(anchor=head)  # ...but not against the head kept elsewhere
    assert not report.ok and "cut off the end" in report.problems[0]
