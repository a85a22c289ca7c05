"""Identity policy knobs: FINBRIDGE_IDENTITY__* parsed into the settings tree, then applied.

Only the first test touches the environment, because the environment parsing itself is what it
tests; everything else builds settings objects.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.settings_support import test_settings as make_settings

from finbridge.core.settings import IdentitySettings, ServeSettings, Settings
from finbridge.identity import IdentityConfig


def test_environment_fills_the_identity_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINBRIDGE_IDENTITY__FACE_THRESHOLD", "0.45")
    monkeypatch.setenv("FINBRIDGE_IDENTITY__STEP_UP_WINDOW_SECONDS", "120")
    monkeypatch.setenv("FINBRIDGE_IDENTITY__RP_ID", "bank.example")
    monkeypatch.setenv(
        "FINBRIDGE_IDENTITY__ORIGINS", '["https://bank.example", "https://m.bank.example"]'
    )
    knobs = Settings(env="development").identity
    assert knobs == IdentitySettings(
        face_threshold=0.45,
        step_up_window_seconds=120,
        rp_id="bank.example",
        origins=("https://bank.example", "https://m.bank.example"),
    )


def test_out_of_range_threshold_is_refused() -> None:
    with pytest.raises(ValidationError, match="face_threshold"):
        IdentitySettings(face_threshold=5)


def test_config_applies_the_knobs_and_keeps_other_defaults(tmp_path: Path) -> None:
    knobs = IdentitySettings(
        face_threshold=0.45,
        step_up_window_seconds=120,
        rp_id="bank.example",
        origins=("https://bank.example", " https://m.bank.example "),
    )
    config = IdentityConfig.from_settings(make_settings(tmp_path, identity=knobs))
    assert config.face_threshold == 0.45
    assert config.step_up_window == timedelta(seconds=120)
    assert config.rp_id == "bank.example"
    assert config.origins == ("https://bank.example", "https://m.bank.example")
    assert config.lockout_after == IdentityConfig().lockout_after  # untouched knobs keep defaults
    # Standard hashing unless the settings ask for the fast (test-only) costs.
    assert config.argon2_memory_kib == IdentityConfig().argon2_memory_kib


def test_fast_hashing_and_served_origin(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        identity=IdentitySettings(password_hashing="fast"),
        serve=ServeSettings(host="10.0.0.5", port=9000),
    )
    config = IdentityConfig.from_settings(settings)
    assert (config.argon2_time_cost, config.argon2_memory_kib) == (1, 1024)
    assert config.origins[0] == "http://10.0.0.5:9000"
