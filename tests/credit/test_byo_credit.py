"""Bring your own data: profiling, the training policy, odd files, scoring on used features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finbridge.core import Principal
from finbridge.core.errors import ValidationError
from finbridge.credit import (
    CreditService,
    TrainingPolicy,
    load_policy,
    read_table,
)
from finbridge.credit.profile import prepare
from finbridge.credit.registry import ModelRegistry

ADMIN = Principal.system("byo-test")


def applicants(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """A table with one of every problem: the signal is in income, region and amount."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    amount = rng.integers(100, 900, n)
    logit = -0.08 * (income - 50) + np.where(region == "south", 1.0, 0.0) + amount / 600 - 1
    bad = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "cust_id": [f"C{i:05d}" for i in range(n)],
            "income": income.round(1),
            "region": region,
            "amount": [str(a) for a in amount],  # numbers stored as text
            "branch": "HQ",  # constant
            "notes": [None] * n,  # all null
            "collections_flag": np.where(bad, 1, 0),  # recorded after the outcome
            "status": np.where(bad, "bad", "good"),
        }
    )


@pytest.fixture
def service(sqlite_engine, clock) -> CreditService:
    return CreditService(ModelRegistry(sqlite_engine, clock), consent=_Consent())


class _Consent:
    def require_consent(self, customer_id: str, purpose: str, data: str | None = None) -> None:
        return None


class TestProfile:
    def test_every_problem_reported_at_once_with_its_decision(self) -> None:
        prepared = prepare(applicants(), TrainingPolicy(target="status"))
        found = {(i.column, i.issue, i.action) for i in prepared.profile.issues}
        assert found == {
            ("cust_id", "id_like", "drop"),
            ("amount", "text_numeric", "coerce"),
            ("branch", "constant", "drop"),
            ("notes", "all_null", "drop"),
            ("collections_flag", "leakage", "drop"),
        }
        assert list(prepared.X.columns) == ["income", "region", "amount"]
        assert pd.api.types.is_float_dtype(prepared.X["amount"])
        p = prepared.profile
        assert p.classes["good"] + p.classes["bad"] == 400 and p.bad_label == "bad"
        assert any("branch: constant" in line for line in p.lines())

    def test_thousands_separators_but_never_decimal_commas(self) -> None:
        frame = applicants()
        frame["balance"] = [f"{1000 + 7 * (k % 50):,}" for k in range(len(frame))]  # "1,007"
        frame["rate"] = "12,5"  # a decimal comma: not 125
        frame.loc[:5, "rate"] = "13,5"
        prepared = prepare(frame, TrainingPolicy(target="status"))
        assert prepared.X["balance"].iloc[1] == 1007.0
        assert "rate" not in [
            i.column for i in prepared.profile.issues if i.issue == "text_numeric"
        ]
        assert prepared.X["rate"].iloc[0] == "13,5"

    def test_policy_errors_come_back_together(self) -> None:
        policy = TrainingPolicy(target="status", constant="error", all_null="error")
        with pytest.raises(ValidationError, match="2 column problem") as err:
            prepare(applicants(), policy)
        assert "branch: constant" in str(err.value) and "notes: all_null" in str(err.value)

    def test_kept_leak_is_a_warning(self) -> None:
        prepared = prepare(applicants(), TrainingPolicy(target="status", leakage="keep"))
        assert "collections_flag" in prepared.X.columns
        assert any("leakage suspects kept" in w for w in prepared.warnings)

    def test_named_id_and_drop_columns(self) -> None:
        policy = TrainingPolicy(target="status", id_columns=("cust_id",), drop=("region",))
        prepared = prepare(applicants(), policy)
        assert "region" not in prepared.X.columns
        named = [i for i in prepared.profile.issues if i.issue == "named"]
        assert {i.column for i in named} == {"cust_id", "region"}
        with pytest.raises(ValidationError, match=r"not in the data: \['nope'\]"):
            prepare(applicants(), TrainingPolicy(target="status", drop=("nope",)))

    def test_three_classes_are_listed(self) -> None:
        frame = applicants()
        frame.loc[:5, "status"] = "unknown"
        with pytest.raises(ValidationError, match="found 3: '"):
            prepare(frame, TrainingPolicy(target="status"))
        with pytest.raises(ValidationError) as err:
            prepare(frame, TrainingPolicy(target="status"))
        assert "'unknown'" in str(err.value)

    def test_unnamed_bad_label_points_at_the_option(self) -> None:
        frame = applicants().assign(status=lambda f: f["status"].map({"bad": "B", "good": "A"}))
        with pytest.raises(ValidationError, match="--bad-label"):
            prepare(frame, TrainingPolicy(target="status"))
        assert prepare(frame, TrainingPolicy(target="status", bad_label="B")).y.sum() > 0

    def test_numeric_bad_label_given_as_text(self) -> None:
        frame = applicants().assign(status=lambda f: (f["status"] == "bad").astype(int) + 1)
        y = prepare(frame, TrainingPolicy(target="status", bad_label="2")).y
        assert y.sum() == (frame["status"] == 2).sum()

    def test_rows_without_target_are_dropped_and_counted(self) -> None:
        frame = applicants()
        frame.loc[:9, "status"] = None
        p = prepare(frame, TrainingPolicy(target="status")).profile
        assert p.rows_dropped_no_target == 10 and p.n_rows == 390


class TestMinimumSize:
    def test_one_row_class_is_refused(self) -> None:
        frame = applicants(60)
        frame["status"] = "good"
        frame.loc[0, "status"] = "bad"
        with pytest.raises(ValidationError, match="class 'bad' has 1 row"):
            prepare(frame, TrainingPolicy(target="status"))

    def test_small_file_refused_then_warned(self) -> None:
        frame = applicants(40)
        with pytest.raises(ValidationError, match=r"too little data.*--allow-small"):
            prepare(frame, TrainingPolicy(target="status"))
        prepared = prepare(frame, TrainingPolicy(target="status", small_data="warn"))
        assert any("held-out rows" in w for w in prepared.warnings)


class TestFiles:
    def test_cp1252_csv_is_detected(self, tmp_path: Path) -> None:
        path = tmp_path / "latin.csv"
        purposes = ["prêt immobilier", "crédit à la consommation", "véhicule d'occasion",
                    "trésorerie", "rénovation énergétique", "études supérieures"]  # fmt: skip
        frame = applicants(60).assign(purpose=[purposes[i % 6] for i in range(60)])
        path.write_bytes(frame.to_csv(index=False).encode("cp1252"))
        table = read_table(path)
        assert table.encoding not in (None, "utf-8")
        assert set(table.frame["purpose"]) == set(purposes)

    def test_wrong_stated_encoding_is_one_message(self, tmp_path: Path) -> None:
        path = tmp_path / "latin.csv"
        path.write_bytes("a,b\nré,1\n".encode("cp1252"))
        with pytest.raises(ValidationError, match="not valid utf-8"):
            read_table(path, encoding="utf-8")

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("empty.csv", b"", "is empty"),
            ("blank.csv", b"\n\n  \n", "no data"),
            ("header.csv", b"a,b,status\n", "header but no rows"),
            ("table.xlsx", b"PK..", "unknown file type"),
            ("broken.jsonl", b'{"a": 1}\n{"a": \n', "line 2 is not JSON"),
            ("list.jsonl", b"[1, 2]\n", "line 1 is not a JSON object"),
            ("broken.parquet", b"not parquet at all", "cannot read broken.parquet"),
        ],
    )
    def test_bad_files(self, tmp_path: Path, name: str, content: bytes, message: str) -> None:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValidationError, match=message):
            read_table(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="no file at"):
            read_table(tmp_path / "none.csv")

    def test_jsonl_and_text_numbers_in_parquet(self, tmp_path: Path) -> None:
        frame = applicants(30)
        (tmp_path / "a.jsonl").write_text(frame.to_json(orient="records", lines=True))
        assert read_table(tmp_path / "a.jsonl").frame.shape == frame.shape
        frame.to_parquet(tmp_path / "a.parquet")
        loaded = read_table(tmp_path / "a.parquet").frame
        assert not pd.api.types.is_numeric_dtype(loaded["amount"])  # the file holds text


class TestConfig:
    def test_yaml_config_and_unknown_key(self, tmp_path: Path) -> None:
        good = tmp_path / "train.yaml"
        good.write_text("target: status\nseed: 7\nid_columns: [cust_id]\nleakage: error\n")
        policy = load_policy(good)
        assert (policy.seed, policy.id_columns, policy.leakage) == (7, ("cust_id",), "error")
        assert policy.merged(seed=9, kind=None).seed == 9
        bad = tmp_path / "bad.yaml"
        bad.write_text("target: status\nholdout: 0.9\n")
        with pytest.raises(ValidationError, match="holdout") as err:
            load_policy(bad)
        assert err.value.field == "holdout"
        typo = tmp_path / "typo.yaml"
        typo.write_text("targte: status\n")
        with pytest.raises(ValidationError, match="targte"):
            load_policy(typo)


class TestTrainAndScore:
    def test_text_numbers_train_and_unused_columns_are_not_needed(
        self, service, tmp_path: Path
    ) -> None:
        applicants().to_parquet(tmp_path / "applicants.parquet")
        frame = read_table(tmp_path / "applicants.parquet").frame
        v = service.train(ADMIN, frame, name="byo", target="status", policy=TrainingPolicy())
        assert "amount" in v.features and v.metrics["auc"] > 0.6
        assert v.metrics["seed"] == 0 and v.metrics["policy"]["unseen"] == "missing"
        assert any("collections_flag: leakage" in d for d in v.metrics["decisions"])
        _, model = service.registry.load("byo", v.version)
        row = frame.iloc[0].to_dict()
        used = {f: row[f] for f in model.features_}
        # extra fields (the id, anything else) are ignored; unused training columns not needed
        result = model.explain(pd.DataFrame([{**used, "cust_id": "X", "whatever": 1}]))
        assert result[0].score == model.explain(pd.DataFrame([used]))[0].score
        missing = dict(used)
        missing.pop(model.features_[0])
        with pytest.raises(ValidationError, match=f"uses: {model.features_[0]}"):
            model.explain(pd.DataFrame([missing]))
        with pytest.raises(ValidationError, match="unseen category 'moon' in column 'region'"):
            model.explain(pd.DataFrame([{**used, "region": "moon"}]))
        html = service.report_html(ADMIN, "byo", v.version)
        assert "Data profile" in html and "collections_flag" in html

    @pytest.mark.slow
    def test_category_only_in_the_holdout(self, service) -> None:
        frame = applicants()
        rare = frame.index[frame["status"] == "good"][:1]
        frame.loc[rare, "region"] = "island"
        policy = TrainingPolicy(target="status", seed=1)
        found = []
        for seed in range(6):  # the one 'island' row lands in the held-out part for some seed
            v = service.train(ADMIN, frame, name=f"h{seed}", policy=policy.merged(seed=seed))
            found += [w for w in v.metrics["warnings"] if "unseen in training" in w]
        assert found and "region" in found[0]
        lenient = service.train(
            ADMIN, frame, name="l", policy=policy.merged(unseen_scoring="missing")
        )
        _, model = service.registry.load("l", lenient.version)
        row = {f: frame.iloc[1][f] for f in model.features_}
        assert model.explain(pd.DataFrame([{**row, "region": "moon"}]))[0].score > 0

    @pytest.mark.slow
    def test_holdout_unseen_as_error_when_asked(self, service) -> None:
        frame = applicants()
        frame.loc[frame.index[:1], "region"] = "island"
        policy = TrainingPolicy(target="status", unseen="error")
        outcomes = []
        for seed in range(6):
            try:
                service.train(ADMIN, frame, name="e", policy=policy.merged(seed=seed))
                outcomes.append("ok")
            except ValidationError as exc:
                assert "categories the training rows lack" in str(exc) and exc.field == "region"
                outcomes.append("refused")
        assert "refused" in outcomes
        assert len(service.list_versions(ADMIN, "e")) == outcomes.count("ok")


def test_console_shows_the_stored_warnings(settings, sqlite_engine, clock) -> None:
    from fastapi.testclient import TestClient
    from tests.api.conftest import issue_key
    from tests.web.conftest import log_in

    from finbridge.core import Role
    from finbridge.platform import Platform
    from finbridge.site import create_app

    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    small = TrainingPolicy(target="status", small_data="warn")
    platform.credit.train(ADMIN, applicants(80), name="small", policy=small)
    client = TestClient(create_app(platform=platform))
    log_in(client, issue_key(platform, [Role.ADMIN]))
    page = client.get("/console/credit")
    assert page.status_code == 200 and "held-out rows (minimum 10)" in page.text
    api = client.get(
        "/v1/credit/models",
        headers={"Authorization": f"Bearer {issue_key(platform, [Role.CREDIT_OFFICER])}"},
    ).json()
    (version,) = [v for v in api if v["model_name"] == "small"]
    assert version["warnings"] and any("bad rate" in d for d in version["data_decisions"])
