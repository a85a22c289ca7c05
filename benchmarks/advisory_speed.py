"""Advisory timings: one goal plan (5,000 bootstrap paths) and the nightly drift check.

- plan: :func:`finbridge.advisory.plans.plan_goal` for a 30-year goal (360 months) on the C3
  model's weights, timed over ``--repeats`` runs after one warm-up; the target is <= 100 ms.
- drift: :func:`finbridge.advisory.drift_check` over ``--accounts`` accounts (default 100,000)
  x 20 products with random holdings and random categories; the target is <= 60 s. The matrix
  building is timed apart from the check (in production the values come from the holdings
  table; ``AdvisoryService.nightly_drift`` reads them in one query).

Run: ``.venv/bin/python benchmarks/advisory_speed.py [--repeats 20] [--accounts 100000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

import numpy as np

from finbridge.advisory import drift_check
from finbridge.advisory.catalogue import catalogue, load_prices
from finbridge.advisory.plans import plan_goal
from finbridge.core.money import Money

# The C3 model's weights as built on the full window (printed by `finbridge advisory
# portfolios`); fixed here so the benchmark does not need skfolio.
C3_LIKE = {"SHY": 0.21, "IEF": 0.07, "AGG": 0.09, "TIP": 0.08, "LQD": 0.06, "TLT": 0.04,
           "HYG": 0.05, "SPY": 0.05, "QQQ": 0.03, "IWM": 0.04, "EFA": 0.04, "EEM": 0.02,
           "XLK": 0.03, "XLE": 0.04, "XLU": 0.04, "XLV": 0.05, "GLD": 0.06}  # fmt: skip


def bench_plan(repeats: int) -> list[float]:
    load_prices()
    kwargs = dict(
        category="C3", weights=C3_LIKE, why="benchmark", target=Money.of("300000", "USD"),
        target_date=dt.date(2056, 12, 1), initial=Money.of("20000", "USD"),
        monthly=Money.of("500", "USD"), today=dt.date(2026, 12, 6),
    )  # fmt: skip
    plan_goal(**kwargs)  # type: ignore[arg-type]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = plan_goal(**kwargs)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    print(f"plan: {result.paths} paths x {result.months} months, P(goal)={result.probability:.3f}")
    return times


def bench_drift(accounts: int) -> tuple[float, float, int]:
    rng = np.random.default_rng(16)
    n_products = len(catalogue())
    start = time.perf_counter()
    targets = rng.dirichlet(np.ones(n_products), size=5)
    categories = rng.integers(0, 5, size=accounts)
    # holdings near their target with noise, so some drift out and most do not
    values = targets[categories] * rng.uniform(5_000, 200_000, size=(accounts, 1))
    values *= rng.lognormal(0.0, 0.15, size=values.shape)
    built = time.perf_counter() - start
    start = time.perf_counter()
    flags, _drift = drift_check(values, categories, targets)
    checked = time.perf_counter() - start
    return built, checked, int(flags.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    times = bench_plan(args.repeats)
    print(
        f"plan ms: median {statistics.median(times) * 1e3:.1f}, "
        f"max {max(times) * 1e3:.1f} over {len(times)} runs"
    )
    built, checked, flagged = bench_drift(args.accounts)
    print(
        f"drift check: {args.accounts:,} accounts x {len(catalogue())} products: "
        f"{checked:.3f} s ({built:.3f} s to build the matrix), {flagged:,} need rebalancing"
    )


if __name__ == "__main__":
    main()
