"""Consumer credit lines: products, applications, purchases, statements, interest,
delinquency and the close-of-business day (issue 14).

Interfaces use :class:`LendingService` (``platform.lending``) and :class:`CobRunner`
(``platform.cob``); other engines reach lending only through the ports below, which the platform
fills (credit score, risk opinion, consent/KYC/age checks).
"""

from finbridge.lending.buckets import Buckets
from finbridge.lending.calendar import calendar_covers, due_date_for, is_workday, next_workday
from finbridge.lending.cob import (
    CobDay,
    CobRunner,
    CobStatus,
    CobStep,
    FunctionStep,
    LendingDay,
    StepRecord,
    bucket_for,
)
from finbridge.lending.instalments import InstalmentPeriod, InstalmentPlan, Instalments
from finbridge.lending.models import Application, Line, Purchase, Reconciliation, Statement
from finbridge.lending.portfolio import Portfolio
from finbridge.lending.ports import (
    ApplicantCheck,
    ApplicantChecks,
    ApproveApplicants,
    AuditTrail,
    CreditScore,
    CreditScorer,
    CustomerNotices,
    NoRiskOpinion,
    RiskDecider,
    RiskOpinion,
)
from finbridge.lending.products import LimitPolicy, ProductTerms, parse_catalogue
from finbridge.lending.reviews import LimitReview, LimitReviews
from finbridge.lending.service import LendingService
from finbridge.lending.simulation import (
    PortfolioSimulations,
    RepaymentModel,
    SimulationParams,
    SimulationResult,
    fit_repayment_model,
)

__all__ = [
    "ApplicantCheck",
    "ApplicantChecks",
    "Application",
    "ApproveApplicants",
    "AuditTrail",
    "Buckets",
    "CobDay",
    "CobRunner",
    "CobStatus",
    "CobStep",
    "CreditScore",
    "CreditScorer",
    "CustomerNotices",
    "FunctionStep",
    "InstalmentPeriod",
    "InstalmentPlan",
    "Instalments",
    "LendingDay",
    "LendingService",
    "LimitPolicy",
    "LimitReview",
    "LimitReviews",
    "Line",
    "NoRiskOpinion",
    "Portfolio",
    "PortfolioSimulations",
    "ProductTerms",
    "Purchase",
    "Reconciliation",
    "RepaymentModel",
    "RiskDecider",
    "RiskOpinion",
    "SimulationParams",
    "SimulationResult",
    "Statement",
    "StepRecord",
    "bucket_for",
    "calendar_covers",
    "due_date_for",
    "fit_repayment_model",
    "is_workday",
    "next_workday",
    "parse_catalogue",
]
