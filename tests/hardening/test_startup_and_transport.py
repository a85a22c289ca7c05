"""Start-up refuses weak or malformed secrets; docs are a setting (off in production); the
session cookie needs the CSRF rule on /v1; files are private; HSTS over TLS."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError as SettingsError
from sqlalchemy import Engine
from tests.api.conftest import customer_api, make_platform
from tests.settings_support import test_settings as settings_for

from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.settings import ApiSettings, IdentitySettings
from finbridge.identity.vault import generate_key_spec
from finbridge.lake import Event, EventLake
from finbridge.platform import Platform
from finbridge.site import create_app
from finbridge.store import make_engine

from .conftest import admin_of

STRONG = "Zx9!kq2Lm#4vB7nR1tY6wE3uI8oP0aSdFgHj"  # 36 characters, 36 distinct


def _production(tmp_path: Path, **changes: object) -> Settings:
    base: dict[str, object] = {"secret_key": STRONG, "pii_keys": generate_key_spec("k1")}
    return Settings(env="production", data_dir=tmp_path, **{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret", "why"),
    [("x", "1 characters"), ("a" * 64, "distinct"), ("ab" * 20, "distinct")],
)
def test_production_refuses_a_weak_secret_key(tmp_path: Path, secret: str, why: str) -> None:
    with pytest.raises(SettingsError, match=f"FINBRIDGE_SECRET_KEY.*{why}"):
        _production(tmp_path, secret_key=secret)
    assert _production(tmp_path).env == "production"


@pytest.mark.parametrize(
    "keys",
    [
        "nocolon",
        "k1:!!!notbase64!!!",
        "k1:AAAA",
        "k 1:" + "A" * 43,
        "k1:" + "A" * 43 + ",k1:" + "A" * 43,
    ],
)
def test_malformed_pii_keys_are_refused_in_every_environment(tmp_path: Path, keys: str) -> None:
    for env in ("development", "production"):
        with pytest.raises(SettingsError, match="FINBRIDGE_PII_KEYS"):
            Settings(env=env, data_dir=tmp_path, secret_key=STRONG, pii_keys=keys)  # type: ignore[arg-type]


def test_docs_are_off_in_production_unless_turned_on(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    fast = IdentitySettings(password_hashing="standard")
    prod = _production(tmp_path, identity=fast)
    client = TestClient(create_app(platform=make_platform(prod, sqlite_engine, clock)))
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path
    on = prod.with_changes(api=ApiSettings(docs=True))
    client = TestClient(create_app(platform=make_platform(on, sqlite_engine, clock)))
    assert client.get("/openapi.json").status_code == 200
    dev = settings_for(tmp_path)
    client = TestClient(create_app(platform=make_platform(dev, sqlite_engine, clock)))
    assert client.get("/docs").status_code == 200


def test_the_session_cookie_needs_the_csrf_rule_on_v1(lite_platform: Platform) -> None:
    admin = admin_of(lite_platform)
    cid = admin.customer("Ada")
    me = customer_api(admin.client.app, lite_platform, cid)  # type: ignore[arg-type]
    body = {"customer_id": cid, "kind": "current", "currency": "CNY"}
    bare = me.client.post("/v1/accounts", json=body)  # what a cross-site form could send
    assert bare.status_code == 403 and bare.json()["field"] == "X-Requested-With"
    foreign = me.post("/v1/accounts", json=body, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["field"] == "Origin"
    assert me.client.get(f"/v1/customers/{cid}").status_code == 200  # reads need nothing
    ok = me.post("/v1/accounts", json=body, headers={"Origin": "http://testserver"})
    assert ok.status_code in (201, 403), ok.text  # past the CSRF rule: the service decides
    assert ok.json().get("field") not in ("X-Requested-With", "Origin")
    # Bearer credentials are never sent by a browser on its own: no CSRF header needed.
    assert (
        admin.post("/v1/customers", json={"kind": "personal", "display_name": "B"}).status_code
        == 201
    )


def test_database_and_lake_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var" / "data"
    engine = make_engine(f"sqlite:///{data / 'finbridge.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    assert stat.S_IMODE((data / "finbridge.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    lake = EventLake(tmp_path / "lake")
    event = Event(
        event_type="app.opened",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        payload={"app_version": "1.0", "platform": "ios"},
        source="test",
        subject_id="c1",
    ).validated()
    lake.append([event], batch="b1")
    files = lake.files()
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    for folder in {f.parent for f in files} | {lake.events_dir}:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_hsts_only_over_tls(lite_platform: Platform) -> None:
    app = create_app(platform=lite_platform)
    secure = TestClient(app, base_url="https://testserver").get("/health")
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "strict-transport-security" not in TestClient(app).get("/health").headers
    assert Principal  # the platform is the lite one: nothing else to check
