"""Shared credit system: scorecards, challenger models, registry, monitoring, Paillier, PSI, VFL."""

from finbridge.credit.challenger import LightGBMChallenger
from finbridge.credit.data import binary_target, conform, feature_schema, fingerprint, split_target
from finbridge.credit.metrics import (
    PSI_ALERT,
    PSI_RETRAIN,
    calibration_table,
    discrimination,
    psi,
    psi_status,
)
from finbridge.credit.monitoring import StabilityReport, stability
from finbridge.credit.registry import ModelRegistry, ModelVersion, ScoreDecision
from finbridge.credit.report import evaluate, render_html
from finbridge.credit.scorecard import Reason, Scorecard, ScoreResult

__all__ = [
    "PSI_ALERT",
    "PSI_RETRAIN",
    "LightGBMChallenger",
    "ModelRegistry",
    "ModelVersion",
    "Reason",
    "ScoreDecision",
    "ScoreResult",
    "Scorecard",
    "StabilityReport",
    "binary_target",
    "calibration_table",
    "conform",
    "discrimination",
    "evaluate",
    "feature_schema",
    "fingerprint",
    "psi",
    "psi_status",
    "render_html",
    "split_target",
    "stability",
]
