"""The risk face: what ``finbridge.risk`` exports, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import finbridge.risk

HEAVY = ("lightgbm", "sklearn", "numba", "polars", "numpy", "finbridge.banking")


def test_the_face_exports_what_it_lists() -> None:
    for name in finbridge.risk.__all__:
        assert getattr(finbridge.risk, name) is not None, name
    assert "RiskService" in finbridge.risk.__all__


def test_importing_the_face_loads_no_heavy_library() -> None:
    """Models and backtests load polars/numpy, and LightGBM/scikit-learn/numba on first use;
    banking's guard protocol loads only with the posting guard."""
    listed = repr(HEAVY)
    code = f"import sys, finbridge.risk; print(sorted(m for m in {listed} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_concept_folders_load_no_ml_library_either() -> None:
    code = (
        "import sys, finbridge.risk.models, finbridge.risk.backtest, finbridge.risk.store; "
        "print(sorted(m for m in ('lightgbm', 'sklearn', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
