"""Vertical federated learning between a bank (labels) and a partner (behaviour features)."""

from finbridge.credit.vfl.data import PartyData, vertical_split
from finbridge.credit.vfl.gbdt import BoostParams
from finbridge.credit.vfl.job import JointConfig, JointResult, run_bank, run_partner, score_joint
from finbridge.credit.vfl.lr import LRParams
from finbridge.credit.vfl.rpc import PartnerRefused

__all__ = [
    "BoostParams",
    "JointConfig",
    "JointResult",
    "LRParams",
    "PartnerRefused",
    "PartyData",
    "run_bank",
    "run_partner",
    "score_joint",
    "vertical_split",
]
