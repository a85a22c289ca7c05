"""Acquisition's model registry: the response and uplift models as versioned files.

``<data_dir>/acquisition/models/v0001/`` holds ``response.json`` (the LightGBM text dump with its
pandas categories, and the isotonic calibration's thresholds), ``uplift.json`` (the learner picked
by validation Qini, in its own JSON form: LightGBM text dumps or the forest's arrays) and
``manifest.json`` (when, from which files with their SHA-256, the held-out reports, and the
SHA-256 of both model files, checked at every load). Never pickle: a file is data, not code.

A version is written into a hidden temporary folder and renamed into place, so a reader sees a
whole version or none; the newest version is the live one (training is the promotion: the
held-out figures sit beside it on the console and in ``finbridge acquisition models list``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from finbridge.acquisition.response import (
    ResponseModel,
    ResponseReport,
    evaluate_response,
    load_bank_marketing,
)
from finbridge.acquisition.uplift import (
    FEATURES as UPLIFT_FEATURES,
)
from finbridge.acquisition.uplift import (
    UpliftLearner,
    UpliftReport,
    evaluate_uplift,
    learner_from_json,
    load_hillstrom,
)
from finbridge.core.errors import NotFound, ValidationError

VERSION = re.compile(r"v(\d{4,9})")
MANIFEST, RESPONSE, UPLIFT = "manifest.json", "response.json", "uplift.json"


def registry_dir(data_dir: Path) -> Path:
    return data_dir / "acquisition" / "models"


@dataclass(frozen=True)
class ModelVersion:
    """One stored version as its manifest describes it (the models are not loaded)."""

    version: str
    trained_at: datetime
    manifest: dict[str, Any]

    @property
    def response_auc(self) -> dict[str, float]:
        return dict(self.manifest["response"]["auc"])

    @property
    def uplift_chosen(self) -> str:
        return str(self.manifest["uplift"]["chosen"])


@dataclass(frozen=True)
class LoadedModels:
    """A version's models in memory, as next-best-offer uses them."""

    version: ModelVersion
    response: ResponseModel
    uplift: UpliftLearner
    uplift_median: np.ndarray  # per Hillstrom feature: what an unknown value is taken to be
    uplift_mean: float  # mean predicted uplift over the experiment: a person factor's unit

    def person_factor(self, x: np.ndarray) -> np.ndarray:
        """Predicted uplift per row relative to the experiment's average person, in [0, 3];
        unknown (NaN) features are the experiment's median."""
        filled = np.where(np.isnan(x), self.uplift_median, x)
        pred = np.asarray(self.uplift.predict(filled))
        if self.uplift_mean <= 0:
            return np.ones(len(x))
        return np.clip(pred / self.uplift_mean, 0.0, 3.0)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": _sha256(path), "bytes": path.stat().st_size}


class ModelRegistry:
    """The versions under one directory (:func:`registry_dir` of the platform's data dir)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: LoadedModels | None = None

    # -- writing ---------------------------------------------------------------------------

    def train(self, bank_full: Path, hillstrom: Path, *, now: datetime) -> ModelVersion:
        """Fit the response model (with its baselines) and the uplift learners (picked by
        validation Qini), then store them as the next version."""
        for path in (bank_full, hillstrom):
            if not path.is_file():
                raise ValidationError(f"no data file {path}", field="data_dir")
        response, response_report = evaluate_response(load_bank_marketing(bank_full))
        data = load_hillstrom(hillstrom)
        uplift, uplift_report = evaluate_uplift(data)
        sources = {"response": _source(bank_full), "uplift": _source(hillstrom)}
        serving = {
            "uplift_median": np.median(data.x, axis=0).tolist(),
            "uplift_mean": float(np.mean(uplift.predict(data.x))),
        }
        return self.save(
            response, response_report, uplift, uplift_report, sources, serving, now=now
        )

    def save(
        self,
        response: ResponseModel,
        response_report: ResponseReport,
        uplift: UpliftLearner,
        uplift_report: UpliftReport,
        sources: dict[str, Any],
        serving: dict[str, Any],
        *,
        now: datetime,
    ) -> ModelVersion:
        if now.tzinfo is None:
            raise ValidationError("trained_at needs a time zone", field="trained_at")
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.directory))
        try:
            (staging / RESPONSE).write_text(json.dumps(response.to_json()))
            (staging / UPLIFT).write_text(
                json.dumps({"learner": uplift_report.chosen, "model": uplift.to_json()})
            )
            manifest = {
                "trained_at": now.isoformat(),
                "sources": sources,
                "response": response_report.as_dict(),
                "uplift": uplift_report.as_dict(),
                "serving": {**serving, "uplift_features": list(UPLIFT_FEATURES)},
                "files": {name: _sha256(staging / name) for name in (RESPONSE, UPLIFT)},
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
            while True:
                name = f"v{self._next_number():04d}"
                try:
                    os.rename(staging, self.directory / name)  # atomic; refuses an existing name
                    break
                except OSError:
                    if not (self.directory / name).exists():
                        raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return ModelVersion(name, now, manifest)

    def _next_number(self) -> int:
        numbers = [int(m.group(1)) for m in map(VERSION.fullmatch, self._names()) if m]
        return max(numbers, default=0) + 1

    # -- reading ---------------------------------------------------------------------------

    def _names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return [e.name for e in self.directory.iterdir() if VERSION.fullmatch(e.name)]

    def versions(self) -> list[ModelVersion]:
        """Every stored version, newest first."""
        out = []
        for name in sorted(self._names(), key=lambda n: int(n[1:]), reverse=True):
            manifest = json.loads((self.directory / name / MANIFEST).read_text())
            out.append(ModelVersion(name, datetime.fromisoformat(manifest["trained_at"]), manifest))
        return out

    def latest(self) -> ModelVersion | None:
        found = self.versions()
        return found[0] if found else None

    def load(self, version: str | None = None) -> LoadedModels:
        """A version's models (the newest if None), each file checked against the manifest.
        The newest is kept in memory until a newer version appears."""
        wanted = version or max(self._names(), key=lambda n: int(n[1:]), default=None)
        if wanted is None or not VERSION.fullmatch(wanted) or wanted not in self._names():
            raise NotFound(f"no stored acquisition model {wanted or ''}".strip(), field="version")
        if self._cache is not None and self._cache.version.version == wanted:
            return self._cache
        folder = self.directory / wanted
        manifest = json.loads((folder / MANIFEST).read_text())
        for name, digest in manifest["files"].items():
            if _sha256(folder / name) != digest:
                raise ValidationError(
                    f"{wanted}/{name} does not match its manifest", field="version"
                )
        stored_uplift = json.loads((folder / UPLIFT).read_text())
        loaded = LoadedModels(
            ModelVersion(wanted, datetime.fromisoformat(manifest["trained_at"]), manifest),
            ResponseModel.from_json(json.loads((folder / RESPONSE).read_text())),
            learner_from_json(stored_uplift["learner"], stored_uplift["model"]),
            np.asarray(manifest["serving"]["uplift_median"], dtype=np.float64),
            float(manifest["serving"]["uplift_mean"]),
        )
        if version is None:
            self._cache = loaded
        return loaded
