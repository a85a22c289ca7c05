"""Face verification evaluation on labelled pairs: false accept / false reject rates and time.

Data (read-only, /work/shared/datasets/faces):
- ``deepface_unit_dataset/master.csv``: 300 pairs (file_x, file_y, Decision Yes/No);
- ``face_recognition_examples``: photos named after their person; every pair of single-face
  photos is a pair, same person if the names say so.
Images where the detector does not find exactly one face are reported, and their pairs are
counted as rejections (the product would refuse them too), so they add to FRR, not to FAR.
"""

from __future__ import annotations

import csv
import itertools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from finbridge.core.errors import ValidationError
from finbridge.identity.face import FaceModel, distance

if TYPE_CHECKING:
    import numpy as np

# face_recognition example files -> person
_PERSON = [
    (re.compile(r"^alex"), "alex_lacamoire"),
    (re.compile(r"^obama"), "obama"),
    (re.compile(r"^biden"), "biden"),
    (re.compile(r"^john"), "jon_snow"),  # john1, john2 and johnsnow_test1: the same actor
    (re.compile(r"^rose"), "rose"),
    (re.compile(r"^lin-manuel"), "lin_manuel_miranda"),
]


@dataclass(frozen=True, slots=True)
class Pair:
    a: str
    b: str
    same: bool


@dataclass
class EvalReport:
    threshold: float
    pairs: int
    genuine: int
    impostor: int
    false_accepts: int
    false_rejects: int
    unusable_images: list[str]
    ms_per_image: float
    ms_per_image_p95: float
    sweep: list[tuple[float, float, float]] = field(default_factory=list)  # (thr, FAR, FRR)
    best_impostor: float = 0.0  # smallest impostor distance
    worst_genuine: float = 0.0  # largest genuine distance

    @property
    def far(self) -> float:
        return self.false_accepts / self.impostor if self.impostor else 0.0

    @property
    def frr(self) -> float:
        return self.false_rejects / self.genuine if self.genuine else 0.0


def deepface_pairs(root: Path) -> list[Pair]:
    with (root / "master.csv").open(newline="") as fh:
        return [
            Pair(str(root / r["file_x"]), str(root / r["file_y"]), r["Decision"].strip() == "Yes")
            for r in csv.DictReader(fh)
        ]


def _person(name: str) -> str | None:
    for pattern, person in _PERSON:
        if pattern.match(name):
            return person
    return None


def example_pairs(root: Path) -> list[Pair]:
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    files = [p for p in files if _person(p.name) is not None]
    return [
        Pair(str(a), str(b), _person(a.name) == _person(b.name))
        for a, b in itertools.combinations(files, 2)
    ]


def evaluate_faces(
    pairs: list[Pair],
    *,
    threshold: float = 0.52,
    model: FaceModel | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    import numpy as np

    model = model or FaceModel()
    images = sorted({p for pair in pairs for p in (pair.a, pair.b)})
    embeddings: dict[str, np.ndarray | None] = {}
    timings: list[float] = []
    unusable: list[str] = []
    for i, path in enumerate(images):
        data = Path(path).read_bytes()
        start = time.perf_counter()
        try:
            embeddings[path] = model.analyse(data).descriptor
        except ValidationError as exc:
            embeddings[path] = None
            unusable.append(f"{Path(path).name}: {exc.detail}")
        timings.append((time.perf_counter() - start) * 1000)
        if progress:
            progress(i + 1, len(images))
    scored = [(_pair_distance(p, embeddings), p.same) for p in pairs]
    genuine = [d for d, same in scored if same]
    impostor = [d for d, same in scored if not same]

    def rates(thr: float) -> tuple[int, int]:
        fa = sum(1 for d in impostor if d <= thr)
        fr = sum(1 for d in genuine if d > thr)
        return fa, fr

    fa, fr = rates(threshold)
    sweep = []
    for thr in np.arange(0.30, 0.71, 0.02):
        a, r = rates(float(thr))
        sweep.append((round(float(thr), 2), a / max(len(impostor), 1), r / max(len(genuine), 1)))
    return EvalReport(
        threshold=threshold,
        pairs=len(pairs),
        genuine=len(genuine),
        impostor=len(impostor),
        false_accepts=fa,
        false_rejects=fr,
        unusable_images=unusable,
        ms_per_image=float(np.mean(timings)) if timings else 0.0,
        ms_per_image_p95=float(np.percentile(timings, 95)) if timings else 0.0,
        sweep=sweep,
        best_impostor=min((d for d in impostor if np.isfinite(d)), default=float("inf")),
        worst_genuine=max((d for d in genuine if np.isfinite(d)), default=0.0),
    )


def _pair_distance(pair: Pair, embeddings: dict[str, np.ndarray | None]) -> float:
    a, b = embeddings[pair.a], embeddings[pair.b]
    if a is None or b is None:
        return float("inf")  # refused image: the pair is rejected
    return distance(a, b)


def face_eval_sets(data_dir: Path) -> dict[str, list[Pair]]:
    faces = data_dir / "faces"
    return {
        "deepface_pairs": deepface_pairs(faces / "deepface_unit_dataset"),
        "face_recognition_examples": example_pairs(faces / "face_recognition_examples"),
    }


def format_face_report(name: str, r: EvalReport) -> Iterable[str]:
    yield (
        f"{name}: {r.pairs} pairs ({r.genuine} same, {r.impostor} different) at threshold "
        f"{r.threshold}: FAR {r.far:.2%} ({r.false_accepts}), FRR {r.frr:.2%} "
        f"({r.false_rejects}); {r.ms_per_image:.0f} ms/image mean, "
        f"{r.ms_per_image_p95:.0f} ms p95; smallest impostor distance {r.best_impostor:.3f}, "
        f"largest genuine {r.worst_genuine:.3f}"
    )
    for line in r.unusable_images:
        yield f"  unusable: {line}"
