"""Robo-advice: risk profiling (C1-C5), product levels (R1-R5), suitability, portfolios, goals,
orders, holdings and rebalancing (issue 16).

Layers: the questionnaire (:mod:`.questionnaire`, shipped as data) -> the catalogue
(:mod:`.catalogue`: real ETFs levelled by a rule on volatility and drawdown) -> the suitability
rule (:mod:`.suitability`, pure) -> :class:`AdvisoryService` (authorised, stores evidence).
Interfaces use this face only. skfolio loads only when model portfolios are first built.

Other engines (acquisition, open banking) call :meth:`AdvisoryService.check_suitability`
through the platform before they offer or sell a product.
"""

from finbridge.advisory.catalogue import LEVEL_LIMITS, LEVELS, Product, risk_level
from finbridge.advisory.orders import Holding, NavFeed, Order
from finbridge.advisory.plans import GoalPlan
from finbridge.advisory.portfolios import Backtest, Metrics, ModelReport
from finbridge.advisory.ports import AuditPort, SecondFactorPort
from finbridge.advisory.questionnaire import CATEGORIES, Assessment, Questionnaire
from finbridge.advisory.rebalance import Proposal, Trade, drift_check
from finbridge.advisory.service import (
    AdvisoryService,
    AutoRebalanceRun,
    Profile,
    RebalancingChoice,
    SuitabilityDecision,
    SuitabilityRefused,
)
from finbridge.advisory.suitability import Outcome, Warning

__all__ = [
    "CATEGORIES",
    "LEVELS",
    "LEVEL_LIMITS",
    "AdvisoryService",
    "Assessment",
    "AuditPort",
    "AutoRebalanceRun",
    "Backtest",
    "GoalPlan",
    "Holding",
    "Metrics",
    "ModelReport",
    "NavFeed",
    "Order",
    "Outcome",
    "Product",
    "Profile",
    "Proposal",
    "Questionnaire",
    "RebalancingChoice",
    "SecondFactorPort",
    "SuitabilityDecision",
    "SuitabilityRefused",
    "Trade",
    "Warning",
    "drift_check",
    "risk_level",
]
