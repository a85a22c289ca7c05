"""The risk model registry: trained fraud models as files ``<data_dir>/risk/models/<version>.json``.

The file name is the version the registry answers to. Files are ``FraudModel.save`` JSON (the
LightGBM text dump, never pickle), written atomically (temporary file, then rename). Versions are
plain names (letters, digits, ``.``, ``_``, ``-``; at most 100 characters; no leading dot, no
``..``), so a version can never name a path outside the directory.

``RiskService.start_shadow_model`` / ``stop_shadow_model`` put a registered model beside the live
one (or take it away) without a restart, each as one audited step; ``promote_shadow_model`` then
makes it live. The shadow choice is held by the process's service (it does not survive a
restart; ``settings.risk.shadow_model_path`` sets one at start-up). A promotion or rollback also
writes the registry's champion pointer (``CHAMPION``: the live version, empty for rules only),
which every process's decision maker reads on its rule-refresh tick (:class:`RegistryChampion`),
so the model a promotion makes live is the one every process scores with within seconds, and
after a restart.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.risk.models._fraud import FraudModel

VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SUFFIX = ".json"
CHAMPION = "CHAMPION"  # not a version file: no suffix, so listings never show it


def registry_dir(data_dir: Path) -> Path:
    """Where registered models live for a platform whose ``Settings.data_dir`` is ``data_dir``."""
    return data_dir / "risk" / "models"


def check_version(version: str) -> str:
    """``version`` if it is a safe registry name, else ``ValidationError(field="version")``."""
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version) or ".." in version:
        raise ValidationError(
            "a model version is 1-100 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, without '..'",
            field="version",
        )
    return version


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    version: str
    size_bytes: int
    registered_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "size_bytes": self.size_bytes,
            "registered_at": self.registered_at,
        }


def _path(directory: Path, version: str) -> Path:
    return directory / f"{check_version(version)}{SUFFIX}"


def list_registered(directory: Path) -> list[RegisteredModel]:
    """Every registered model, newest first (files that are not valid version names are skipped)."""
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        stem = entry.name.removesuffix(SUFFIX)
        if not entry.name.endswith(SUFFIX) or not entry.is_file():
            continue
        if not VERSION_PATTERN.fullmatch(stem) or ".." in stem:
            continue
        st = entry.stat()
        found.append(RegisteredModel(stem, st.st_size, datetime.fromtimestamp(st.st_mtime, tz=UTC)))
    return sorted(found, key=lambda m: (m.registered_at, m.version), reverse=True)


def register_model(
    directory: Path, model: FraudModel, version: str | None = None, *, replace: bool = False
) -> Path:
    """Store ``model`` as ``version`` (default: its own); refuses to overwrite unless asked."""
    name = check_version(version or model.version)
    target = _path(directory, name)
    if target.exists() and not replace:
        raise Conflict(f"model version {name} is already registered", field="version")
    directory.mkdir(parents=True, exist_ok=True)
    model.version = name
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        model.save(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_registered(directory: Path, version: str) -> FraudModel:
    """The registered model ``version`` (``NotFound`` if there is none; 422 if unreadable)."""
    path = _path(directory, version)
    if not path.is_file():
        raise NotFound(f"no registered model version {version}", field="version")
    try:
        model = FraudModel.load(path)
    except Exception as exc:  # bad JSON, missing keys, LightGBM's own error: all unreadable
        raise ValidationError(
            f"registered model {version} cannot be loaded: {type(exc).__name__}", field="version"
        ) from None
    model.version = version  # the registry's name is the version decisions record
    return model


def is_registered(directory: Path, version: str) -> bool:
    return _path(directory, version).is_file()


def write_champion(directory: Path, version: str | None) -> None:
    """Point every process at ``version`` (None: no model, rules only), atomically."""
    text = "" if version is None else check_version(version)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{CHAMPION}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, directory / CHAMPION)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RegistryChampion:
    """Where a decision maker learns which model is live: the registry's pointer."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def champion(self) -> str | None:
        """The live version; ``""``: rules only; None: nothing was ever promoted here."""
        try:
            return (self.directory / CHAMPION).read_text().strip()
        except FileNotFoundError:
            return None

    def load(self, version: str) -> FraudModel:
        return load_registered(self.directory, version)
