from __future__ import annotations

import pytest
from sqlalchemy import select, update

from finbridge.core import Principal
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.core.principal import Role
from finbridge.credit import CreditService
from finbridge.credit.monitoring import stability
from finbridge.credit.registry import ModelRegistry
from finbridge.credit.report import evaluate, render_html
from finbridge.credit.tables import ModelVersionRow, ScoreRow
from finbridge.lake.tables import OutboxRow
from finbridge.store import unit_of_work

ADMIN = Principal.system("credit-test")


@pytest.fixture
def registry(engine, clock):
    return ModelRegistry(engine, clock)


def _register(registry, german_scorecard, german_split):
    Xtr, Xte, ytr, yte = german_split
    return registry.register(
        ADMIN,
        "german",
        german_scorecard,
        X_train=Xtr,
        y_train=ytr,
        metrics={"evaluation": evaluate(german_scorecard, Xte, yte)},
    )


def test_register_promote_score_records_version(registry, engine, german_scorecard, german_split):
    v1 = _register(registry, german_scorecard, german_split)
    v2 = _register(registry, german_scorecard, german_split)
    assert (v1.version, v2.version) == (1, 2)
    assert len(v1.artifact_sha256) == 64 and len(v1.data_fingerprint) == 64
    assert v1.data_fingerprint == v2.data_fingerprint
    assert v1.trained_by == "credit-test" and v1.features == german_scorecard.features_
    with pytest.raises(NotFound, match="has no a live version"):
        registry.load("german")
    registry.promote(ADMIN, "german", 1)
    registry.promote(ADMIN, "german", 2)
    versions = {v.version: v.status for v in registry.list_versions(ADMIN, "german")}
    assert versions == {1: "retired", 2: "live"}
    _, Xte, _, _ = german_split
    decision = registry.score(
        ADMIN, "german", Xte.iloc[0].to_dict(), customer_id="cust-1", consent=_allow
    )
    assert decision.version == 2 and decision.reasons
    with unit_of_work(engine, write=False) as s:
        row = s.scalars(select(ScoreRow)).one()
        assert (row.version, row.model_version_id) == (2, v2.id)
        types = [r.event_type for r in s.scalars(select(OutboxRow).order_by(OutboxRow.seq))]
    assert types.count("credit.model_promoted") == 2 and types[-1] == "credit.scored"
    assert registry.scores_for(ADMIN, "cust-1")[0]["score"] == decision.score


def _allow(customer_id: str, purpose: str) -> None:
    """Every customer consented (the consent rule has its own test below)."""


def test_one_live_version_enforced_by_database(registry, engine, german_scorecard, german_split):
    _register(registry, german_scorecard, german_split)
    _register(registry, german_scorecard, german_split)
    registry.promote(ADMIN, "german", 1)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        with unit_of_work(engine) as s:
            s.execute(
                update(ModelVersionRow).where(ModelVersionRow.version == 2).values(is_live=True)
            )
    assert registry.get(ADMIN, "german").version == 1


def test_tampered_artifact_refused(registry, engine, german_scorecard, german_split):
    v = _register(registry, german_scorecard, german_split)
    registry.promote(ADMIN, "german", v.version)
    with unit_of_work(engine) as s:
        row = s.get(ModelVersionRow, v.id)
        row.artifact = row.artifact[:-1] + b"\x00"
    with pytest.raises(Conflict, match="fails its sha256 check"):
        ModelRegistry(engine, registry._clock).load("german")


def test_authorisation_and_bad_names(registry, german_scorecard, german_split):
    analyst = Principal.operator("ana", [Role.RISK_ANALYST])
    Xtr, _, ytr, _ = german_split
    with pytest.raises(PermissionDenied, match="credit:write"):
        registry.register(analyst, "x", german_scorecard, X_train=Xtr, y_train=ytr, metrics={})
    with pytest.raises(ValidationError, match="model name"):
        registry.register(
            ADMIN, "bad name!", german_scorecard, X_train=Xtr, y_train=ytr, metrics={}
        )
    with pytest.raises(NotFound, match="version 9"):
        registry.promote(ADMIN, "german", 9)
    customer = Principal.customer("cust-1")
    with pytest.raises(PermissionDenied, match="credit:score"):
        registry.score(customer, "german", {}, customer_id="cust-2", consent=_allow)


def test_consent_is_checked_before_scoring(registry, german_scorecard, german_split):
    _register(registry, german_scorecard, german_split)
    registry.promote(ADMIN, "german", 1)
    _, Xte, _, _ = german_split

    def refuse(customer_id: str, purpose: str) -> None:
        raise PermissionDenied(f"no consent from {customer_id} for {purpose}")

    with pytest.raises(PermissionDenied, match="no consent from cust-9 for credit_scoring"):
        registry.score(ADMIN, "german", Xte.iloc[0].to_dict(), customer_id="cust-9", consent=refuse)


class _Consents:
    """A ConsentPort double: the customers who consented to credit scoring."""

    def __init__(self, *consented: str) -> None:
        self.consented = set(consented)

    def require_consent(self, customer_id: str, purpose: str, data: str | None = None) -> None:
        if purpose != "credit_scoring" or customer_id not in self.consented:
            raise PermissionDenied(f"no consent from {customer_id} for {purpose}")


def test_the_service_scores_a_customer_only_with_their_id_and_consent(
    registry, german_scorecard, german_split
):
    _register(registry, german_scorecard, german_split)
    registry.promote(ADMIN, "german", 1)
    row = german_split[1].iloc[0].to_dict()
    service = CreditService(registry, _Consents("cust-1"))
    assert service.score(ADMIN, "german", row, customer_id="cust-1").version == 1
    with pytest.raises(PermissionDenied, match="no consent from cust-2"):
        service.score(ADMIN, "german", row, customer_id="cust-2")
    with pytest.raises(ValidationError, match="customer's id is required"):
        service.score(ADMIN, "german", row, customer_id=" ")
    # A customer principal may score only themselves (and is told nothing about others).
    me = Principal.customer("cust-3")
    with pytest.raises((NotFound, PermissionDenied)):
        service.score(me, "german", row, customer_id="cust-1")
    assert [r["mode"] for r in service.scores_for(ADMIN, "cust-1")] == ["single"]


def test_stability_and_html_report(german_scorecard, german_split):
    _, Xte, _, yte = german_split
    same = stability(german_scorecard, Xte)
    assert same.status == "stable" and same.score_psi < 0.1
    shifted = Xte.assign(duration_in_month=Xte.duration_in_month * 3)
    drift = stability(german_scorecard, shifted)
    assert drift.feature_psi["duration_in_month"] >= 0.25 and drift.status == "retrain"
    html = render_html(
        "german v1", {"version": 1}, evaluate(german_scorecard, Xte, yte), drift.as_dict()
    )
    assert html.count("<svg") >= 6 and "retrain" in html and "<script" not in html
    assert "ROC (AUC" in html and "Score distribution by outcome" in html


@pytest.mark.parametrize("version", [0, -1, 2**31, 4913408949401670])
def test_a_version_past_the_column_range_is_not_found(registry, version):
    # Found by the API fuzzer: PostgreSQL refused the comparison with its INTEGER column (500).
    with pytest.raises(NotFound, match=f"version {version}"):
        registry.promote(ADMIN, "german", version)
    with pytest.raises(NotFound, match=f"version {version}"):
        registry.get(ADMIN, "german", version)
