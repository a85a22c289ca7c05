"""skfolio and pandas load only when model portfolios are built: the face and the CLI stay light."""

from __future__ import annotations

import subprocess
import sys


def test_face_and_cli_import_no_skfolio() -> None:
    code = (
        "import sys, finbridge.advisory, finbridge.cli.main; "
        "heavy = [m for m in ('skfolio', 'cvxpy', 'sklearn') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
