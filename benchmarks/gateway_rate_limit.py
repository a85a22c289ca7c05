"""The decision gateway's per-API-key rate limit (issue 11): what one decision pays for it.

``RateLimiter.hit("gateway_per_key", key)``, the call the gateway makes per decision, timed in a
loop for one key with a limit high enough never to refuse: in-process (the default) and in Redis
(``--redis URL``; the gateway makes that call off its event loop).

Run: ``.venv/bin/python benchmarks/gateway_rate_limit.py [--hits 6000] [--redis URL]``
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from finbridge.core.ratelimit import RateLimiter
from finbridge.core.settings import RateLimitSettings


def per_hit(url: str | None, hits: int) -> float:
    limiter = RateLimiter(RateLimitSettings(gateway_per_key="1000000/minute"), url)
    key = f"bench-{uuid.uuid4().hex}"  # a fresh window per run
    start = time.perf_counter()
    for _ in range(hits):
        limiter.hit("gateway_per_key", key)
    return (time.perf_counter() - start) / hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=6000)
    parser.add_argument("--redis", default=None, help="also time a Redis-backed limiter")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print(f"in-process: {per_hit(None, args.hits) * 1e6:.1f} us per decision")
    if args.redis:
        hits = min(args.hits, 2000)
        print(f"redis: {per_hit(args.redis, hits) * 1e6:.1f} us per decision ({hits} hits)")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
