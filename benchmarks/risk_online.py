"""Online risk decisions over HTTP against the decision gateway: sustained rate, latency
percentiles, and capacity as a ratio to the same server's trivial endpoint (``/health``).

The gateway (``finbridge.gateway.run_gateway``: uvicorn, a SQLite file, in-process velocity
windows, the shipped LightGBM model, group commit in a writer process) runs in its own process,
exactly as ``finbridge gateway`` serves it; this process generates the load on loopback with a
small asyncio HTTP/1.1 keep-alive client. The sustained phase is open-loop: requests are
*scheduled* at a fixed rate and latency is measured from the scheduled instant, so a stalled
server cannot hide queueing (no coordinated omission).

    .venv/bin/python benchmarks/risk_online.py [--rate 1000] [--seconds 60] [--velocity redis]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEQ = itertools.count()  # event ids unique across every phase
GIVE_UP_S = 5.0


def settings_for(data_dir: str, velocity: str):  # type: ignore[no-untyped-def]
    from finbridge.core import Settings
    from finbridge.core.settings import RateLimitSettings, RiskSettings

    # The per-key limit's default (6,000/minute) is an operator's guard, far below the rates
    # measured here; a one-second window keeps the limiter's work per decision small and real.
    limits = RateLimitSettings(gateway_per_key="20000/second")
    return Settings(
        env="development",
        data_dir=Path(data_dir),
        risk=RiskSettings.model_validate({"velocity": velocity}),  # refuses a bad name
        rate_limits=limits,
    )


def serve(data_dir: str, port: int, velocity: str, writer_process: bool) -> None:
    from finbridge.gateway import run_gateway

    settings = settings_for(data_dir, velocity)
    run_gateway(settings, host="127.0.0.1", port=port, writer_process=writer_process)


def prepare(data_dir: str) -> str:
    from finbridge.core import Role
    from finbridge.platform import Platform, upgrade_database

    platform = Platform.build(settings_for(data_dir, "memory"))
    upgrade_database(platform)
    key = platform.api_keys.issue("bench", [Role.RISK_ANALYST])
    platform.close()
    return key.plaintext


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


def raw_request(method: str, path: str, body: bytes, key: str) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def decision_body(rng: random.Random, seq: int) -> bytes:
    kind = rng.random()
    c = rng.randint(1, 5000)
    body: dict[str, object] = {
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer_id": f"c{c}",
        "device_id": f"d{c if rng.random() < 0.95 else rng.randint(1, 9000)}",
        "ip": f"10.{c % 250}.{rng.randint(0, 3)}.{rng.randint(1, 250)}",
        "card_id": f"k{c}",
        "event_id": f"bench-{os.getpid()}-{seq}",
    }
    if kind < 0.7:
        body |= {
            "event_type": "payment",
            "amount": f"{rng.lognormvariate(3.5, 1.0):.2f}",
            "merchant_id": f"m{rng.randint(1, 2000)}",
        }
    elif kind < 0.9:
        body |= {
            "event_type": "transfer",
            "amount": f"{rng.lognormvariate(5, 1.2):.2f}",
            "payee_id": f"p{rng.randint(1, 20000)}",
        }
    else:
        body |= {"event_type": "login"}
    return json.dumps(body).encode()


async def open_pool(port: int, n: int) -> asyncio.Queue[Conn]:
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pool.put_nowait(Conn(r, w))
    return pool


async def closed_loop(port: int, make: object, seconds: float, conns: int) -> dict[str, Any]:
    """As fast as the server answers, ``conns`` requests in flight: the capacity."""
    pool = await open_pool(port, conns)
    done = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        conn = await pool.get()
        while time.perf_counter() < deadline:
            status = await conn.request(make(next(SEQ)))  # type: ignore[operator]
            done += 1
            errors += status >= 400

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conns)))
    elapsed = time.perf_counter() - started
    return {"requests": done, "errors": errors, "per_second": done / elapsed}


async def open_loop(
    port: int, make: object, rate: float, seconds: float, conns: int
) -> dict[str, Any]:
    """Requests scheduled at ``rate``/s; latency from the scheduled instant."""
    pool = await open_pool(port, conns)
    latencies: list[float] = []
    worst: dict[int, float] = {}  # second of the run -> its worst latency
    errors = dropped = 0
    statuses: dict[int, int] = {}
    pending: set[asyncio.Task[None]] = set()
    crashed: list[BaseException] = []

    def finished(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            crashed.append(task.exception())  # type: ignore[arg-type]

    total = int(rate * seconds)

    async def one(i: int, due: float) -> None:
        nonlocal errors, dropped
        conn = await pool.get()
        if time.perf_counter() - due > GIVE_UP_S:
            # Waited too long for a free connection: the server is saturated. Counted as an
            # error (and not sent) so an overloaded run ends instead of queueing for minutes.
            pool.put_nowait(conn)
            dropped += 1
            errors += 1
            return
        try:
            status = await conn.request(make(i))  # type: ignore[operator]
        except Exception:
            errors += 1
            return
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)
        second = int(due - start)
        worst[second] = max(worst.get(second, 0.0), latencies[-1])
        statuses[status] = statuses.get(status, 0) + 1
        errors += status >= 400

    # The generator must not stall itself: its own collector pauses would count against the
    # server (latency is taken from the scheduled instant), so it is off for the timed phase.
    # The schedule starts after that collection (~0.2 s): the first requests must not be late
    # before they are sent.
    gc.collect()
    gc.disable()
    start = time.perf_counter() + 0.2
    try:
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(next(SEQ), due))
            pending.add(task)
            task.add_done_callback(finished)
        # Only what is still in flight: a gather over every task of the run queued one callback
        # per finished task (60,000) at once and stalled this loop for the last requests' answers,
        # which their latency counted against the server (the last second was always over 50 ms).
        while pending:
            await asyncio.wait(set(pending))
        if crashed:
            raise crashed[0]
    finally:
        gc.enable()
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {
        "scheduled": total,
        "completed": len(lat),
        "errors": errors,
        "dropped_after_5s_wait": dropped,
        "statuses": statuses,
        "achieved_per_second": len(lat) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": lat[-1] * 1000 if lat else float("nan"),
        "seconds_with_a_request_over_50ms": sorted(k for k, v in worst.items() if v > 0.05),
    }


def wait_ready(port: int, deadline: float) -> float:
    """Seconds from now until the gateway's ``/ready`` answers 200."""
    import urllib.error
    import urllib.request

    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise SystemExit("the gateway did not become ready")


async def first_two(port: int, make: object) -> list[float]:
    """Latency of the first and the second decision after /ready, one at a time."""
    pool = await open_pool(port, 1)
    conn = await pool.get()
    out = []
    for _ in range(2):
        started = time.perf_counter()
        status = await conn.request(make(next(SEQ)))  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    return out


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds(root: int) -> tuple[float, float]:
    """CPU time (user + system) of process ``root`` alone and with every live descendant (the
    decision writer process): what one server spends, whatever share of the machine it got."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return times.get(root, 0.0), total


async def measured(pid: int, phase: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """``phase``'s figures plus the server's CPU microseconds per request during it (all its
    processes, and the serving process alone)."""
    main_before, before = cpu_seconds(pid)
    out = await phase
    main_after, after = cpu_seconds(pid)
    per = 1e6 / max(out["requests"], 1)
    out["server_cpu_us_per_request"] = (after - before) * per
    out["serving_process_cpu_us_per_request"] = (main_after - main_before) * per
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--capacity-seconds", type=float, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--server-profile", help="write the server's cProfile stats to this file")
    ap.add_argument("--velocity", choices=["memory", "redis"], default="memory")
    ap.add_argument(
        "--writer",
        choices=["process", "thread"],
        default="process",
        help="where the gateway commits decisions (its writer_process argument)",
    )
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.velocity, args.writer == "process")
        return

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="risk-online-")
    key = prepare(data)
    command = [sys.executable, __file__, "--serve", data, "--port", str(port)]
    if args.server_profile:
        command[1:1] = ["-m", "cProfile", "-o", args.server_profile]
    command += ["--velocity", args.velocity, "--writer", args.writer]
    started = time.monotonic()
    server = subprocess.Popen(command, cwd=ROOT)
    try:
        ready_s = wait_ready(port, started + 180)
        rng = random.Random(7)
        health = raw_request("GET", "/health", b"", key)

        def decision(seq: int) -> bytes:
            return raw_request("POST", "/v1/risk/decisions", decision_body(rng, seq), key)

        # Warm up the client and the server's code paths; /ready already meant the model, rule
        # sets and writer process were loaded, which the first measured decision shows.
        first_ms = asyncio.run(first_two(port, decision))
        asyncio.run(closed_loop(port, decision, 3, 8))
        load_before = loadavg()
        pid = server.pid
        trivial_phase = closed_loop(port, lambda _: health, args.capacity_seconds, 32)
        trivial = asyncio.run(measured(pid, trivial_phase))
        capacity = asyncio.run(
            measured(pid, closed_loop(port, decision, args.capacity_seconds, 32))
        )
        sustained = asyncio.run(open_loop(port, decision, args.rate, args.seconds, args.conns))
        load_after = loadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)  # the gateway's database and files: ~130 MB
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores (shared)",
        "velocity": args.velocity,
        "writer": args.writer,
        "gateway_ready_seconds": round(ready_s, 2),
        "first_and_second_decision_ms": [round(x, 2) for x in first_ms],
        "load_average_before": load_before,
        "load_average_after": load_after,
        "trivial_endpoint_per_second": round(trivial["per_second"], 1),
        "decision_capacity_per_second": round(capacity["per_second"], 1),
        "ratio_decision_to_trivial": round(capacity["per_second"] / trivial["per_second"], 3),
        # The same comparison by the server's own CPU per request: it does not depend on how
        # much of the machine the server got, so it survives a loaded box.
        "server_cpu_us_per_health": round(trivial["server_cpu_us_per_request"], 1),
        "server_cpu_us_per_decision": round(capacity["server_cpu_us_per_request"], 1),
        "of_which_serving_process_us": round(capacity["serving_process_cpu_us_per_request"], 1),
        "cpu_ratio_health_to_decision": round(
            trivial["server_cpu_us_per_request"] / capacity["server_cpu_us_per_request"], 3
        ),
        "sustained": {
            k: (round(v, 2) if isinstance(v, float) else v) for k, v in sustained.items()
        },
        "target": f"{args.rate:.0f}/s for {args.seconds:.0f}s, p99 <= 50 ms, no errors",
    }
    print(json.dumps(report, indent=2))
    ratio = report["ratio_decision_to_trivial"]
    print(f"capacity ratio decisions / trivial endpoint: {ratio:.3f} (target >= 0.3)")


if __name__ == "__main__":
    main()
