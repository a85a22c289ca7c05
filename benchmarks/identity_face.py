"""Face verification benchmark: FAR / FRR at the configured threshold and time per image.

    .venv/bin/python benchmarks/identity_face.py [--data-dir ../shared/datasets] [--threshold 0.52]

Reads the deepface pair list (300 labelled pairs) and the face_recognition example photos from
the shared data folder; prints the figures for docs/benchmarks.md, with the machine load.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from finbridge.identity import IdentityConfig, evaluate_faces, face_eval_sets, format_face_report

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".." / "shared" / "datasets")
    parser.add_argument("--threshold", type=float, default=IdentityConfig().face_threshold)
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(
        f"# identity face benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, {platform.python_version()}, load before {load_before}"
    )
    for name, pairs in face_eval_sets(args.data_dir.resolve()).items():
        report = evaluate_faces(pairs, threshold=args.threshold)
        for line in format_face_report(name, report):
            print(line)
        zero_far = [t for t, far, frr in report.sweep if far == 0.0]
        best = min((frr, t) for t, far, frr in report.sweep if far == 0.0) if zero_far else None
        if best:
            print(f"  lowest FRR with zero false accepts in the sweep: {best[0]:.2%} at {best[1]}")
        print(
            "  sweep: " + ", ".join(f"{t:.2f}:{far:.1%}/{frr:.1%}" for t, far, frr in report.sweep)
        )
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
