"""The simulation as an operator service: authorised, the product's terms read from lending's
catalogue, results kept as JSON files under the data directory (no table: a run is a
reproducible computation, so its file is a cache keyed by everything that decides it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Protocol

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, PermissionDenied
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lending.products import ProductTerms
from finbridge.lending.simulation._behaviour import RepaymentModel, fit_repayment_model
from finbridge.lending.simulation._data import load_clients, load_spending
from finbridge.lending.simulation._engine import SimulationRun, simulate
from finbridge.lending.simulation._params import SimulationParams
from finbridge.lending.simulation._result import SimulationResult

# Part of every cache key: a change to the model or the data's reading makes old files stale.
MODEL_VERSION = "1"
LATEST = "latest.json"


class ProductCatalogue(Protocol):
    """What the simulation needs from lending: a catalogued product's terms (LendingService)."""

    def product(self, actor: Principal, product_id: str) -> ProductTerms: ...


class PortfolioSimulations:
    """``platform.lending_simulations``: run a simulation, or read the last one run."""

    def __init__(self, catalogue: ProductCatalogue, clock: Clock, directory: Path) -> None:
        self._catalogue = catalogue
        self._clock = clock
        self._dir = directory
        self._model: RepaymentModel | None = None

    @staticmethod
    def _authorise(actor: Principal) -> None:
        # Portfolio-wide figures are the bank's: operators (and the system) only.
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            raise PermissionDenied("the portfolio simulation is for operators")
        actor.require_scope("lending:read")

    def repayment_model(self) -> RepaymentModel:
        """The transition matrix fitted on the shipped Taiwan clients (fitted once)."""
        if self._model is None:
            self._model = fit_repayment_model(load_clients().status)
        return self._model

    def run(
        self, actor: Principal, params: SimulationParams, *, use_cache: bool = True
    ) -> SimulationResult:
        """The run for ``params``: from its cached file when one exists, else computed and
        stored. Either way it becomes the latest run shown on the console."""
        self._authorise(actor)
        terms = self._catalogue.product(actor, params.product_id)
        key = _cache_key(params, terms)
        path = self._dir / f"{key}.json"
        if use_cache and path.exists():
            result = SimulationResult.from_json(json.loads(path.read_text(encoding="utf-8")))
        else:
            result = self.compute(actor, params, terms).result
            _write(path, result)
        _write(self._dir / LATEST, result)
        return result

    def compute(
        self, actor: Principal, params: SimulationParams, terms: ProductTerms | None = None
    ) -> SimulationRun:
        """Run without the cache, with the per-customer totals (checks, benchmarks)."""
        self._authorise(actor)
        terms = terms or self._catalogue.product(actor, params.product_id)
        return simulate(
            terms, load_clients(), load_spending(), self.repayment_model(), params,
            now=self._clock.now(),
        )  # fmt: skip

    def latest(self, actor: Principal) -> SimulationResult:
        self._authorise(actor)
        path = self._dir / LATEST
        if not path.exists():
            raise NotFound("no portfolio simulation has been run yet", field="simulation")
        return SimulationResult.from_json(json.loads(path.read_text(encoding="utf-8")))


def _cache_key(params: SimulationParams, terms: ProductTerms) -> str:
    blob = json.dumps(
        {"v": MODEL_VERSION, "params": params.to_json(), "terms": terms.to_json()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _write(path: Path, result: SimulationResult) -> None:
    # Written aside then renamed: a reader never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{new_id()}.tmp")
    tmp.write_text(json.dumps(result.to_json()), encoding="utf-8")
    tmp.replace(path)
