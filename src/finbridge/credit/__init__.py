"""Shared credit system: scorecards, challenger models, registry, monitoring, PSI, VFL.

The face interfaces use: :class:`CreditService` (models, scoring with consent, joint scoring,
the partnership), its :class:`ConsentPort`, the value objects it returns, and the partnership
pieces a party server needs (certificates, the HTTPS link, the protocol endpoint).

Importing this face stays light: scikit-learn, LightGBM and optbinning load when a model is
first trained or scored. Estimators themselves live in :mod:`finbridge.credit.scorecard` and
:mod:`finbridge.credit.challenger` for notebooks and tests.
"""

from finbridge.core.tls import tls_context
from finbridge.credit._service import ConsentPort, CreditService
from finbridge.credit.data import binary_target, conform, feature_schema, fingerprint, split_target
from finbridge.credit.datasets import (
    GERMAN_TARGET,
    TAIWAN_BANK_COLUMNS,
    TAIWAN_PARTNER_COLUMNS,
    TAIWAN_TARGET,
    german,
    taiwan,
)
from finbridge.credit.files import LoadedTable, read_table
from finbridge.credit.metrics import (
    PSI_ALERT,
    PSI_RETRAIN,
    calibration_table,
    discrimination,
    psi,
    psi_status,
)
from finbridge.credit.paillier import (
    Encryptor,
    PackedCodec,
    PrivateKey,
    PublicKey,
    generate_keypair,
)
from finbridge.credit.party import MAX_FRAME, PartyEndpoint, peer_of
from finbridge.credit.pki import (
    ROLES,
    certificate_expiry,
    days_left,
    make_certificates,
    renew_certificates,
)
from finbridge.credit.policy import TrainingPolicy, load_policy
from finbridge.credit.profile import ColumnIssue, DataProfile
from finbridge.credit.psi import NoOverlap, PsiResult, run_psi
from finbridge.credit.registry import SCORING_PURPOSE, ModelVersion, ScoreDecision
from finbridge.credit.transport import (
    Channel,
    Mailbox,
    PartyUnreachable,
    PeerLink,
    TamperedMessage,
    channel_pair,
    https_channel,
)
from finbridge.credit.vfl.data import PartyData
from finbridge.credit.vfl.online import JointDecision

__all__ = [
    "GERMAN_TARGET",
    "MAX_FRAME",
    "PSI_ALERT",
    "PSI_RETRAIN",
    "ROLES",
    "SCORING_PURPOSE",
    "TAIWAN_BANK_COLUMNS",
    "TAIWAN_PARTNER_COLUMNS",
    "TAIWAN_TARGET",
    "Channel",
    "ColumnIssue",
    "ConsentPort",
    "CreditService",
    "DataProfile",
    "Encryptor",
    "JointDecision",
    "LoadedTable",
    "Mailbox",
    "ModelVersion",
    "NoOverlap",
    "PackedCodec",
    "PartyData",
    "PartyEndpoint",
    "PartyUnreachable",
    "PeerLink",
    "PrivateKey",
    "PsiResult",
    "PublicKey",
    "ScoreDecision",
    "TamperedMessage",
    "TrainingPolicy",
    "binary_target",
    "calibration_table",
    "certificate_expiry",
    "channel_pair",
    "conform",
    "days_left",
    "discrimination",
    "feature_schema",
    "fingerprint",
    "generate_keypair",
    "german",
    "https_channel",
    "load_policy",
    "make_certificates",
    "peer_of",
    "psi",
    "psi_status",
    "read_table",
    "renew_certificates",
    "run_psi",
    "split_target",
    "taiwan",
    "tls_context",
]
