"""Settings for tests: built as objects, never from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finbridge.core.settings import IdentitySettings, Settings


def test_settings(data_dir: Path, **changes: Any) -> Settings:
    """Test settings on ``data_dir``: cheap password hashing, everything else as given."""
    changes.setdefault("identity", IdentitySettings(password_hashing="fast"))
    return Settings(env="test", data_dir=data_dir, **changes)
