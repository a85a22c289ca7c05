"""The risk model registry: trained fraud models as files ``<data_dir>/risk/models/<version>.json``.

The file name is the version the registry answers to. Files are ``FraudModel.save`` JSON (the
LightGBM text dump, never pickle), written atomically (temporary file, then rename). Versions are
plain names (letters, digits, ``.``, ``_``, ``-``; at most 100 characters; no leading dot, no
``..``), so a version can never name a path outside the directory.

``RiskService.start_shadow_model`` / ``stop_shadow_model`` put a registered model beside the live
one (or take it away) without a restart, each as one audited step; ``promote_shadow_model`` then
makes it live. What decides is kept in three pointer files beside the models, each written
atomically (temporary file, then rename), so every process sees the same choice:

- ``CHAMPION``: the live version (empty: rules only), written by a promotion or a rollback;
- ``SHADOW``: the version scored beside it (empty: none), written by starting or stopping a
  shadow and emptied by a promotion (the promoted model leaves the shadow slot);
- ``ROLLBACK``: the version the last promotion replaced (empty: rules only), which one-step
  rollback returns to and then removes, so any process can undo a promotion made in another.

Every process's decision maker reads ``CHAMPION`` and ``SHADOW`` on its rule-refresh tick
(:class:`RegistryChampion`): a promotion, a rollback or a shadow started in one process is what
every process scores with within seconds, and after a restart. A pointer never written says
nothing (``settings.risk.shadow_model_path`` then sets the shadow at start-up).
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
# Pointer files, not version files: no suffix, so listings never show them.
CHAMPION = "CHAMPION"
SHADOW = "SHADOW"
ROLLBACK = "ROLLBACK"


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


def _write_pointer(directory: Path, name: str, version: str | None) -> None:
    text = "" if version is None else check_version(version)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_pointer(directory: Path, name: str) -> str | None:
    """The pointed version; ``""``: none (rules only / no shadow); None: never written."""
    try:
        return (directory / name).read_text().strip()
    except FileNotFoundError:
        return None


def write_champion(directory: Path, version: str | None) -> None:
    """Point every process at ``version`` (None: no model, rules only), atomically."""
    _write_pointer(directory, CHAMPION, version)


def write_shadow(directory: Path, version: str | None) -> None:
    """Have every process score ``version`` in shadow (None: no shadow), atomically."""
    _write_pointer(directory, SHADOW, version)


def write_rollback(directory: Path, version: str | None) -> None:
    """Remember what the last promotion replaced (None: rules only), for any process."""
    _write_pointer(directory, ROLLBACK, version)


def take_rollback(directory: Path) -> str | None:
    """The version one-step rollback returns to (``""``: rules only), or None when there is no
    promotion to undo. The caller removes it with :func:`clear_rollback` once done."""
    return _read_pointer(directory, ROLLBACK)


def clear_rollback(directory: Path) -> None:
    (directory / ROLLBACK).unlink(missing_ok=True)


class RegistryChampion:
    """Where a decision maker learns which models are live and in shadow: the registry's
    pointers."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def champion(self) -> str | None:
        """The live version; ``""``: rules only; None: nothing was ever promoted here."""
        return _read_pointer(self.directory, CHAMPION)

    def shadow(self) -> str | None:
        """The shadow version; ``""``: none; None: never set here (keep the process's own)."""
        return _read_pointer(self.directory, SHADOW)

    def load(self, version: str) -> FraudModel:
        return load_registered(self.directory, version)
