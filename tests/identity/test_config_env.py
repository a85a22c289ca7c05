"""Identity policy knobs can be set from the environment, and bad values are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from finbridge.core import Settings
from finbridge.identity.config import IdentityConfig


def test_environment_overrides_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINBRIDGE_IDENTITY_FACE_THRESHOLD", "0.45")
    monkeypatch.setenv("FINBRIDGE_IDENTITY_STEP_UP_WINDOW_SECONDS", "120")
    monkeypatch.setenv("FINBRIDGE_IDENTITY_RP_ID", "bank.example")
    monkeypatch.setenv("FINBRIDGE_IDENTITY_ORIGINS", "https://bank.example, https://m.bank.example")
    config = IdentityConfig.from_settings(Settings(env="development"))
    assert config.face_threshold == 0.45
    assert config.step_up_window == timedelta(seconds=120)
    assert config.rp_id == "bank.example"
    assert config.origins == ("https://bank.example", "https://m.bank.example")
    assert config.lockout_after == IdentityConfig().lockout_after  # untouched knobs keep defaults


def test_out_of_range_threshold_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINBRIDGE_IDENTITY_FACE_THRESHOLD", "5")
    with pytest.raises(ValidationError, match="face_threshold"):
        IdentityConfig.from_settings(Settings(env="development"))
