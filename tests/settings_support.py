"""Settings for tests: built as objects, never from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finbridge.core.settings import IdentitySettings, RateLimitSettings, Settings


def test_settings(data_dir: Path, **changes: Any) -> Settings:
    """Test settings on ``data_dir``: cheap password hashing, everything else as given."""
    changes.setdefault("identity", IdentitySettings(password_hashing="fast"))
    # Suites make thousands of calls a minute from one client: limits are tested on purpose
    # (tests/hardening/test_rate_limits.py), not tripped by accident.
    changes.setdefault("rate_limits", RateLimitSettings(enabled=False))
    return Settings(env="test", data_dir=data_dir, **changes)
