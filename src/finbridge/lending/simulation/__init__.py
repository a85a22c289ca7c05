"""The credit-line portfolio simulation (issue 14's figures): the demo's customers spending the
fraud handbook's amounts, repaying by a Markov chain fitted on the Taiwan repayment statuses,
under a catalogued product's own terms; utilisation, roll rates, vintages, revenue, charge-offs.
"""

from finbridge.lending.simulation._behaviour import (
    STATES,
    RepaymentModel,
    fit_repayment_model,
    status_state,
)
from finbridge.lending.simulation._data import Clients, Spending, load_clients, load_spending
from finbridge.lending.simulation._engine import (
    CustomerTotals,
    SimulationRun,
    minimum_due,
    simulate,
)
from finbridge.lending.simulation._params import SimulationParams
from finbridge.lending.simulation._result import (
    MonthFigures,
    RollRate,
    SimulationResult,
    Vintage,
)
from finbridge.lending.simulation._service import PortfolioSimulations, ProductCatalogue

__all__ = [
    "STATES",
    "Clients",
    "CustomerTotals",
    "MonthFigures",
    "PortfolioSimulations",
    "ProductCatalogue",
    "RepaymentModel",
    "RollRate",
    "SimulationParams",
    "SimulationResult",
    "SimulationRun",
    "Spending",
    "Vintage",
    "fit_repayment_model",
    "load_clients",
    "load_spending",
    "minimum_due",
    "simulate",
    "status_state",
]
