"""The risk model registry: trained fraud models as files ``<data_dir>/risk/models/<version>.json``.

The file name is the version the registry answers to. Files are ``FraudModel.save`` JSON (the
LightGBM text dump, never pickle), written atomically (temporary file, then rename). Versions are
plain names (letters, digits, ``.``, ``_``, ``-``; at most 100 characters; no leading dot, no
``..``), so a version can never name a path outside the directory.

``RiskService.start_shadow_model`` / ``stop_shadow_model`` put a registered model beside the live
one (or take it away) without a restart, each as one audited step; ``promote_shadow_model`` then
makes it live. What decides is kept in one pointer file beside the models, ``POINTERS`` (JSON),
so every process sees the same choice and a change of several pointers is one transaction:

- ``champion``: the live version (empty: rules only), written by a promotion or a rollback;
- ``shadow``: the version scored beside it (empty: none), written by starting or stopping a
  shadow and emptied by a promotion (the promoted model leaves the shadow slot);
- ``rollback``: the version the last promotion replaced (empty: rules only), which one-step
  rollback returns to and then removes, so any process can undo a promotion made in another.

A change (:func:`change_pointers`) holds an exclusive ``flock`` on the directory's lock file from
its read to its write, so two processes promoting at once queue instead of losing one's write,
and writes the whole file atomically (temporary file, then rename): a crash mid-promotion leaves
the pointers as they were, never a champion without its rollback or a promoted model still in
the shadow slot (three files, renamed one by one, could). Readers take no lock.

Every process's decision maker reads the pointers on its rule-refresh tick
(:class:`RegistryChampion`): a promotion, a rollback or a shadow started in one process is what
every process scores with within seconds, and after a restart. A pointer never written says
nothing (``settings.risk.shadow_model_path`` then sets the shadow at start-up).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.risk.models._fraud import FraudModel

VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SUFFIX = ".json"
# The pointer file and its lock, not version files: no suffix, so listings never show them.
POINTERS = "POINTERS"
_LOCK = ".pointers.lock"
log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Pointers:
    """Which registered versions decide. Each: a version, ``""`` (rules only / no shadow / a
    rollback to rules only), or None (never written: says nothing)."""

    champion: str | None = None
    shadow: str | None = None
    rollback: str | None = None


def read_pointers(directory: Path) -> Pointers:
    """The pointers as last written (one file, renamed into place: never half of a change)."""
    try:
        data = json.loads((directory / POINTERS).read_text())
    except FileNotFoundError:
        return Pointers()
    except ValueError:  # written by hand: nothing it says can be trusted
        log.warning("risk model registry: %s is not JSON; no pointer is read", POINTERS)
        return Pointers()
    if not isinstance(data, dict):
        return Pointers()
    return Pointers(**{k: _pointed(data.get(k)) for k in ("champion", "shadow", "rollback")})


def _pointed(value: object) -> str | None:
    if value is None or value == "":
        return value  # type: ignore[return-value]
    if isinstance(value, str) and VERSION_PATTERN.fullmatch(value) and ".." not in value:
        return value
    return None  # not a version name: it says nothing


@contextlib.contextmanager
def change_pointers(directory: Path) -> Iterator[list[Pointers]]:
    """One change of the pointers, as a transaction between processes: yields a one-item list
    holding the current :class:`Pointers`; put the new ones in it (``box[0] = replace(...)``)
    and they are written atomically when the block ends without an error."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / _LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        before = read_pointers(directory)
        box = [before]
        yield box
        if box[0] != before:
            _write_pointers(directory, box[0])


def _write_pointers(directory: Path, pointers: Pointers) -> None:
    data = {
        k: ("" if v == "" else check_version(v))
        for k, v in (
            ("champion", pointers.champion),
            ("shadow", pointers.shadow),
            ("rollback", pointers.rollback),
        )
        if v is not None
    }
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{POINTERS}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, directory / POINTERS)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_champion(directory: Path, version: str | None) -> None:
    """Point every process at ``version`` (None: no model, rules only), atomically."""
    with change_pointers(directory) as box:
        box[0] = replace(box[0], champion=version or "")


class RegistryChampion:
    """Where a decision maker learns which models are live and in shadow: the registry's
    pointers."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def champion(self) -> str | None:
        """The live version; ``""``: rules only; None: nothing was ever promoted here."""
        return read_pointers(self.directory).champion

    def shadow(self) -> str | None:
        """The shadow version; ``""``: none; None: never set here (keep the process's own)."""
        return read_pointers(self.directory).shadow

    def load(self, version: str) -> FraudModel:
        return load_registered(self.directory, version)
