"""Shared credit system: scorecards, challenger models, registry, monitoring, Paillier, PSI, VFL.

Public names load lazily (PEP 562) so the PSI and party processes start without importing
scikit-learn, LightGBM and optbinning.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LightGBMChallenger": "challenger",
    "binary_target": "data",
    "conform": "data",
    "feature_schema": "data",
    "fingerprint": "data",
    "split_target": "data",
    "PSI_ALERT": "metrics",
    "PSI_RETRAIN": "metrics",
    "calibration_table": "metrics",
    "discrimination": "metrics",
    "psi": "metrics",
    "psi_status": "metrics",
    "StabilityReport": "monitoring",
    "stability": "monitoring",
    "ModelRegistry": "registry",
    "ModelVersion": "registry",
    "ScoreDecision": "registry",
    "evaluate": "report",
    "render_html": "report",
    "Reason": "scorecard",
    "ScoreResult": "scorecard",
    "Scorecard": "scorecard",
    "PublicKey": "paillier",
    "PrivateKey": "paillier",
    "Encryptor": "paillier",
    "PackedCodec": "paillier",
    "generate_keypair": "paillier",
    "run_psi": "psi",
    "PsiResult": "psi",
    "NoOverlap": "psi",
    "Channel": "transport",
    "channel_pair": "transport",
    "PartyUnreachable": "transport",
    "TamperedMessage": "transport",
    "PartyServer": "party",
    "PeerLink": "party",
    "make_certificates": "pki",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'finbridge.credit' has no attribute {name!r}")
    return getattr(importlib.import_module(f"finbridge.credit.{module}"), name)
