"""The stored response and uplift models: trained on real slices, written as versioned files
with a manifest, loaded back (the stored figures reproduce), refused when tampered with, and
served to next-best-offer, the console and the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import roc_auc_score
from tests.acquisition.conftest import SYSTEM, new_customer, read_news
from tests.api.conftest import issue_key
from tests.web.conftest import log_in
from typer.testing import CliRunner

import finbridge
from finbridge.acquisition.registry import ModelRegistry, registry_dir
from finbridge.acquisition.response import TARGET, features_of, load_bank_marketing, split_rows
from finbridge.acquisition.uplift import UpliftScores, load_hillstrom, split_uplift
from finbridge.cli.main import app as cli
from finbridge.core import PermissionDenied, Principal, Role, ValidationError
from finbridge.platform import Platform
from finbridge.platform._schema import upgrade_database
from finbridge.site import create_app
from finbridge.store.engine import make_engine

DATA = Path(finbridge.__file__).parent / "datasets" / "marketing"
NOW = datetime(2020, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Smaller real slices (2,500 bank-full rows, 4,000 Hillstrom rows): the registry's
    behaviour, not the figures, is under test (those are in docs/benchmarks.md)."""
    folder = tmp_path_factory.mktemp("marketing")
    bank = pd.read_parquet(DATA / "uci_bank_full_sample_6k.parquet").iloc[:2500]
    hill = pd.read_parquet(DATA / "hillstrom_email_sample_12k.parquet").iloc[:4000]
    bank.to_parquet(folder / "bank.parquet")
    hill.to_parquet(folder / "hill.parquet")
    return folder / "bank.parquet", folder / "hill.parquet"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, slices: tuple[Path, Path]) -> Path:
    """One training for the module (v0001); tests copy the folder rather than train again."""
    folder = tmp_path_factory.mktemp("registry")
    ModelRegistry(folder).train(*slices, now=NOW)
    return folder / "v0001"


@pytest.mark.slow  # trains the models (a few seconds each, more on the loaded machine)
def test_versions_are_stored_loaded_and_checked(
    tmp_path: Path, slices: tuple[Path, Path], trained: Path
) -> None:
    bank, hill = slices
    registry = ModelRegistry(tmp_path / "models")
    assert registry.versions() == [] and registry.latest() is None
    shutil.copytree(trained, tmp_path / "models" / "v0001")
    assert [v.version for v in registry.versions()] == ["v0001"]
    manifest = json.loads((tmp_path / "models" / "v0001" / "manifest.json").read_text())
    assert manifest["sources"]["response"]["file"] == "bank.parquet"
    assert len(manifest["sources"]["uplift"]["sha256"]) == 64
    assert set(manifest["response"]["auc"]) == {
        "lightgbm_calibrated", "lightgbm_uncalibrated", "lightgbm_default", "logistic",
    }  # fmt: skip
    assert manifest["uplift"]["chosen"] in {"two_model", "class_transformation", "uplift_forest"}

    # Loaded from the files alone, the models reproduce the figures stored beside them.
    loaded = ModelRegistry(tmp_path / "models").load()
    frame = load_bank_marketing(bank)
    y = frame[TARGET].to_numpy()
    test_rows = split_rows(y).test
    p = loaded.response.predict_proba(frame[features_of(frame)].iloc[test_rows])
    auc = round(float(roc_auc_score(y[test_rows], p)), 4)
    assert auc == manifest["response"]["auc"]["lightgbm_calibrated"]
    data = load_hillstrom(hill)
    test = data.take(split_uplift(data).test)
    scores = UpliftScores.of(loaded.uplift.predict(test.x), test)
    assert vars(scores) == manifest["uplift"]["test"][manifest["uplift"]["chosen"]]
    # Unknown inputs are the experiment's median, never NaN in the output.
    unknown = np.full((2, data.x.shape[1]), np.nan)
    factor = loaded.person_factor(unknown)
    assert np.isfinite(factor).all() and ((factor >= 0) & (factor <= 3)).all()

    # A second training is the next version, and the live one; listing is newest first.
    v2 = registry.train(bank, hill, now=NOW)
    assert v2.version == "v0002" and [v.version for v in registry.versions()] == ["v0002", "v0001"]
    assert registry.load().version.version == "v0002"

    # A file changed after training is refused, naming the version.
    stored = tmp_path / "models" / "v0001" / "uplift.json"
    stored.write_text(stored.read_text().replace("0", "1", 1))
    with pytest.raises(ValidationError, match=r"v0001/uplift\.json") as err:
        registry.load("v0001")
    assert err.value.field == "version"


@pytest.mark.slow
def test_offers_and_console_use_the_live_models(
    sqlite_platform: Platform, slices: tuple[Path, Path], trained: Path
) -> None:
    platform = sqlite_platform
    acq = platform.acquisition
    reader = new_customer(platform, "reader")
    read_news(platform, reader, platform.clock.now(), "基金净值走高 理财产品热销")
    acq.refresh_profiles(SYSTEM)
    before = acq.offers(SYSTEM, reader)
    assert before and all(o.model_version is None and o.response is None for o in before)
    with pytest.raises(PermissionDenied):
        acq.train_models(Principal.customer(reader), *slices)

    # As a training through the face would leave it (the module trained it once already).
    shutil.copytree(trained, registry_dir(platform.settings.data_dir) / "v0001")
    (version,) = acq.model_versions(SYSTEM)
    offers = acq.offers(SYSTEM, reader)
    assert offers and all(o.model_version == version.version for o in offers)
    assert all(o.response is not None and 0 <= o.response <= 1 for o in offers)
    assert [o.score for o in offers] == sorted((o.score for o in offers), reverse=True)
    for o in offers:
        assert f"uplift model {version.version}" in o.reason and "response" in o.reason
        assert o.score == pytest.approx(o.expected_uplift * float(o.value), rel=1e-3)

    client = TestClient(create_app(platform=platform))
    key = issue_key(platform, [Role.MARKETER])
    log_in(client, key)
    page = client.get("/console/acquisition/models")
    assert page.status_code == 200
    assert f"Live: {version.version}" in page.text and "logistic" in page.text
    assert "acq-model-qini" in page.text
    profile = client.get("/console/acquisition/profile", params={"customer_id": reader})
    assert profile.status_code == 200 and version.version in profile.text
    listed = client.get("/v1/acquisition/models", headers={"Authorization": f"Bearer {key}"}).json()
    assert [v["version"] for v in listed] == ["v0001"]
    assert listed[0]["response_auc"] == version.response_auc


@pytest.mark.slow
def test_cli_trains_and_lists_versions(tmp_path: Path, slices: tuple[Path, Path]) -> None:
    data = tmp_path / "marketing"
    data.mkdir()
    bank, hill = slices
    (data / "uci_bank_full_45k.parquet").write_bytes(bank.read_bytes())
    (data / "hillstrom_email_64k.parquet").write_bytes(hill.read_bytes())
    env = {"FINBRIDGE_DATA_DIR": str(tmp_path), "FINBRIDGE_ENV": "test"}
    engine = make_engine(f"sqlite:///{tmp_path / 'finbridge.db'}")
    upgrade_database(engine)
    engine.dispose()
    runner = CliRunner()
    r = runner.invoke(cli, ["acquisition", "models", "list"], env=env)
    assert r.exit_code == 0 and "no stored models" in r.output, r.output
    r = runner.invoke(cli, ["acquisition", "models", "train", "--data-dir", str(data)], env=env)
    assert r.exit_code == 0, r.output
    assert "stored v0001 (live)" in r.output and "lightgbm_default" in r.output
    r = runner.invoke(cli, ["acquisition", "models", "list"], env=env)
    assert r.exit_code == 0 and "v0001 (live)" in r.output, r.output
    r = runner.invoke(
        cli, ["acquisition", "models", "train", "--data-dir", str(tmp_path / "none")], env=env
    )
    assert r.exit_code != 0 and "no data file" in r.output
