"""Sanctions screening of beneficiary names with ``rapidfuzz``.

Names are normalised by rapidfuzz's default processor (lower case, punctuation to spaces) and
compared with ``token_set_ratio``, so word order, extra middle names and legal suffixes do not
hide a listed name; a score at or above the threshold is a hit. A hit holds the payment for an
analyst; it is never sent. The shipped list is a made-up demonstration (see data/PROVENANCE.md).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DEMO_LIST = Path(__file__).parent / "data" / "sanctions_demo.csv"
THRESHOLD = 88.0


@dataclass(frozen=True, slots=True)
class Hit:
    listed_name: str
    list_name: str
    reference: str
    score: float


class ScreeningList:
    def __init__(self, entries: list[tuple[str, str, str]], threshold: float = THRESHOLD) -> None:
        self.entries = entries
        self.names = [name for name, _, _ in entries]
        self.threshold = threshold

    @classmethod
    def from_csv(cls, path: Path = DEMO_LIST, threshold: float = THRESHOLD) -> ScreeningList:
        with path.open(encoding="utf-8", newline="") as f:
            rows = [(r["name"], r["list"], r["reference"]) for r in csv.DictReader(f)]
        return cls(rows, threshold)

    def screen(self, name: str) -> Hit | None:
        from rapidfuzz import fuzz, process, utils

        best = process.extractOne(
            name, self.names, scorer=fuzz.token_set_ratio, processor=utils.default_process,
            score_cutoff=self.threshold,
        )  # fmt: skip
        if best is None:
            return None
        listed, score, index = best
        _, list_name, reference = self.entries[index]
        return Hit(listed, list_name, reference, float(score))
