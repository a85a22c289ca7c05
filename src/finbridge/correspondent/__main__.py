"""``python -m finbridge.correspondent --certs DIR``: serve the simulated correspondent bank.

Prints ``serving https://HOST:PORT`` once bound (a caller that asked for port 0 reads it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from finbridge.correspondent._server import CorrespondentServer
from finbridge.payments import SimulatedCorrespondent


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m finbridge.correspondent", description=__doc__)
    p.add_argument("--certs", type=Path, required=True, help="partnership certificates")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reject-rate", type=float, default=0.1)
    p.add_argument("--return-rate", type=float, default=0.1)
    p.add_argument("--seconds-per-day", type=float, default=86_400.0,
                   help="real seconds one correspondent day lasts (86400: real time)")  # fmt: skip
    args = p.parse_args(argv)
    if not 0 <= args.reject_rate <= 1 or not 0 <= args.return_rate <= 1:
        p.error("--reject-rate and --return-rate are between 0 and 1")
    if args.seconds_per_day <= 0:
        p.error("--seconds-per-day must be positive")
    bank = SimulatedCorrespondent(seed=args.seed, reject_rate=args.reject_rate,
                                  return_rate=args.return_rate)  # fmt: skip
    server = CorrespondentServer(bank, args.certs, host=args.host, port=args.port,
                                 seconds_per_day=args.seconds_per_day)  # fmt: skip
    print(f"serving {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
