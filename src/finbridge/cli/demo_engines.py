"""Bring the engines to life in the demo, from the demo's own data, through their faces.

After the spine is seeded (customers, accounts, replayed card payments, ``demo_data``), each
engine gets what its console pages show: a credit scorecard trained on the demo's own Taiwan
clients and made live, a stored and live risk rule set, and one quant backtest on the shipped
market slice. Every step is idempotent (a second demo finds what the first one made) and goes
through the engine's face on the platform, as an operator's action would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from finbridge.cli.demo_acquisition import seed_acquisition
from finbridge.cli.demo_advisory import seed_advisory
from finbridge.cli.demo_approvals import seed_approvals
from finbridge.cli.demo_data import CLIENTS_FILE
from finbridge.cli.demo_features import seed_features
from finbridge.cli.demo_lending import seed_lending, seed_lending_simulation
from finbridge.cli.demo_monitoring import seed_monitoring
from finbridge.cli.demo_openbanking import seed_openbanking
from finbridge.cli.demo_payments import seed_payments
from finbridge.cli.demo_quant import seed_imported_market
from finbridge.core.principal import Principal
from finbridge.platform import Platform

SCORECARD = "taiwan_default_scorecard"
TAIWAN_RECORDED = "2005-09-30T00:00:00+00:00"  # the last statement the columns describe
TAIWAN_SCORED = "2005-10-01T00:00:00+00:00"  # the month whose default is the label
QUANT_EXAMPLE = "us_ma_crossover.yaml"
# A scorecard on fewer clients than this would be noise; smaller demos (tests) skip it.
MIN_CLIENTS_FOR_MODEL = 1_000

_ACTOR = Principal.system("demo")


@dataclass(frozen=True, slots=True)
class EnginesSeeded:
    credit_model: str | None  # "name vN (AUC ...)" when trained now or found
    risk_rule_set: str | None
    quant_run: str | None
    advisory: str | None = None
    payments: str | None = None
    acquisition: str | None = None
    openbanking: str | None = None
    lending: str | None = None
    lending_simulation: str | None = None
    quant_market: str | None = None
    monitoring: str | None = None
    features: str | None = None
    approvals: str | None = None


def seed_engines(
    platform: Platform, *, clients: int, say: Callable[[str], None] = lambda _: None
) -> EnginesSeeded:
    """Seed credit, risk and quant for a demo whose first ``clients`` Taiwan clients are
    customers. Each engine's step is skipped if it already has what it would make."""
    return EnginesSeeded(
        credit_model=_credit(platform, clients, say),
        risk_rule_set=_risk(platform, say),
        quant_run=_quant(platform, say),
        advisory=seed_advisory(platform, say),
        payments=seed_payments(platform, say),
        acquisition=seed_acquisition(platform, say),
        openbanking=seed_openbanking(platform, say),
        lending=seed_lending(platform, say),
        lending_simulation=seed_lending_simulation(platform, say),
        quant_market=seed_imported_market(platform, say),
        monitoring=seed_monitoring(platform, say),  # after lending: credit scores to watch
        features=seed_features(platform, say),
        approvals=seed_approvals(platform, say),  # after risk: the live rules see them too
    )


def _credit(platform: Platform, clients: int, say: Callable[[str], None]) -> str | None:
    existing = [v for v in platform.credit.list_versions(_ACTOR, SCORECARD) if v.status == "live"]
    if existing:
        return f"{SCORECARD} v{existing[0].version}"
    if clients < MIN_CLIENTS_FOR_MODEL:
        return None
    import pandas as pd

    say(f"training a credit scorecard on the demo's {clients:,} Taiwan clients")
    frame = pd.read_parquet(CLIENTS_FILE).head(clients)
    # The slice stores AGE as text with "nan" for unknown ages; the scorecard bins it as a number
    # (unknown ages get optbinning's missing bin).
    frame["AGE"] = pd.to_numeric(frame["AGE"], errors="coerce")
    # Through the feature store, as a bank's scorecard learns: the clients' attributes as
    # recorded with September 2005's statement, each default label joined with what was known
    # when October's score was made (the Taiwan columns describe April-September 2005).
    version = platform.credit.train_recorded(
        _ACTOR,
        platform.features.store,
        frame,
        target="DEFAULT_NEXT_MONTH",
        name=SCORECARD,
        kind="scorecard",
        id_column="ID",
        recorded_at=TAIWAN_RECORDED,
        scored_at=TAIWAN_SCORED,
        promote=True,
    )
    return f"{SCORECARD} v{version.version} (held-out AUC {version.metrics['auc']:.3f})"


def _risk(platform: Platform, say: Callable[[str], None]) -> str | None:
    from finbridge.risk import default_rule_set

    risk = platform.risk
    live = risk.rule_sets.current("active")
    if live is not None:
        return live.name
    say("storing the starting risk rule set and making it live")
    stored = risk.rule_sets.save_draft(_ACTOR, default_rule_set())
    return risk.promote_rule_set(_ACTOR, stored.id).name


def _quant(platform: Platform, say: Callable[[str], None]) -> str | None:
    from importlib.resources import files

    quant = platform.quant
    if quant.list_runs(_ACTOR, limit=1):
        return None
    say("running one quant backtest on the shipped market slice")
    config = files("finbridge.quant").joinpath("examples", QUANT_EXAMPLE).read_text()
    run = quant.run(_ACTOR, config)
    return f"{run.name} ({run.status})"
