"""The credit-line portfolio simulation (issue 14's figures): N customers x M months.

Timed separately: reading the demo's two data files, fitting the repayment chain on the 30,000
Taiwan clients, and the simulation itself (the figure the issue asks for: 10,000 x 12 in a few
seconds), each run ``--repeat`` times; the product's terms are the shipped catalogue's (what
``finbridge lending install`` puts in the database). Reported: seconds (min and median), the
peak resident memory of the process, and the load average before and after, since the machine
is shared: figures under load are upper bounds.

    .venv/bin/python benchmarks/lending_simulation.py [--customers 10000] [--months 12]
        [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import time
from datetime import UTC, datetime

from finbridge.lending import SimulationParams
from finbridge.lending.products import shipped_catalogue
from finbridge.lending.simulation import (
    fit_repayment_model,
    load_clients,
    load_spending,
    simulate,
)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    load_before = _load()
    terms = shipped_catalogue()[0][0]
    params = SimulationParams(customers=args.customers, months=args.months)
    times: dict[str, list[float]] = {"read": [], "fit": [], "simulate": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        clients, spending = load_clients(), load_spending()
        t1 = time.perf_counter()
        model = fit_repayment_model(clients.status)
        t2 = time.perf_counter()
        run = simulate(terms, clients, spending, model, params, now=datetime.now(UTC))
        t3 = time.perf_counter()
        times["read"].append(t1 - t0)
        times["fit"].append(t2 - t1)
        times["simulate"].append(t3 - t2)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(simulate, terms, clients, spending, model, params, now=datetime.now(UTC))
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = run.result
    print(f"{args.customers:,} customers x {args.months} months, product {terms.product_id}")
    for name, values in times.items():
        print(f"  {name:9s} min {min(values):.2f} s, median {statistics.median(values):.2f} s")
    print(f"  peak RSS {peak_mib:.0f} MiB; load average (1/5 min) before {load_before}, "
          f"after {_load()}")  # fmt: skip
    print(
        f"  last month: utilisation {r.months[-1].utilisation:.1%}, interest "
        f"{r.total('interest')}, fees {r.total('fees')}, charge-offs {r.total('charge_offs')}"
    )
    print(
        "  roll rates: " + ", ".join(f"{x.source}->{x.target} {x.rate:.1%}" for x in r.roll_rates)
    )


if __name__ == "__main__":
    main()
