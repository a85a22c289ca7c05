"""ECDH-PSI between two party processes over HTTPS + mutual TLS on loopback.

Sets of N x N phone-number-like ids with 50% overlap (default N = 1,000,000). Prints wall time,
bytes on the wire, and the ratio to the protocol's bare X25519 scalar multiplications (two per
element of each set, spread over two processes) measured alone in the same run. Beside it the
`openmined.psi` package on a subset (default 100k x 100k, extrapolated linearly and labelled so).
Run: .venv/bin/python benchmarks/credit_psi.py [--n 1000000] [--openmined-n 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import tempfile
import time
from pathlib import Path


def _ids(start: int, n: int) -> list[str]:
    return [f"+86 139{i:08d}" for i in range(start, start + n)]


def _party(role: str, n: int, cert_dir: str, urls: dict, ready, go, out, workers: int) -> None:
    from finbridge.credit import PartyEndpoint, PeerLink, https_channel, run_psi
    from finbridge.party import PartyServer

    endpoint = PartyEndpoint(role)
    server = PartyServer(endpoint, Path(cert_dir)).serve_in_background()
    urls[role] = server.url
    ids = _ids(0, n) if role == "bank" else _ids(n // 2, n)
    ready.wait()
    peer = PeerLink(urls["partner" if role == "bank" else "bank"], Path(cert_dir), role)
    channel = https_channel(endpoint.mailbox, peer, "bench", b"j" * 32, timeout=600)
    go.wait()
    t0 = time.perf_counter()
    res = run_psi(
        channel,
        "receiver" if role == "bank" else "sender",
        ids,
        hash_key=b"h" * 32,
        kind="phone",
        workers=workers,
    )
    out.put((role, time.perf_counter() - t0, res.bytes_sent, len(res.shared or [])))
    server.close()


def _bare(n: int, out) -> None:
    from finbridge.credit.psi import bare_scalar_mults

    points = [secrets.token_bytes(32) for _ in range(n)]
    key = secrets.token_bytes(32)
    t0 = time.perf_counter()
    bare_scalar_mults(points, key)
    bare_scalar_mults(points, key)
    out.put(time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--openmined-n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1, help="blinding processes per party")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    print(f"load average before: {os.getloadavg()}")

    # Bare curve work: 2 scalar mults per element of each set = 4N, over two processes.
    q = ctx.Queue()
    procs = [ctx.Process(target=_bare, args=(args.n, q)) for _ in range(2)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    bare_each = [q.get() for _ in procs]
    for p in procs:
        p.join()
    bare_wall = time.perf_counter() - t0
    bare = max(bare_each)
    print(
        f"bare X25519: {4 * args.n:,} scalar mults in {bare:.1f}s over 2 processes "
        f"({4 * args.n / bare:,.0f}/s; wall incl. start {bare_wall:.1f}s)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        from finbridge.credit.pki import make_certificates

        make_certificates(Path(tmp))
        manager = ctx.Manager()
        urls = manager.dict()
        ready, go = ctx.Event(), ctx.Event()
        out = ctx.Queue()
        parties = [
            ctx.Process(target=_party, args=(r, args.n, tmp, urls, ready, go, out, args.workers))
            for r in ("bank", "partner")
        ]
        for p in parties:
            p.start()
        while len(urls) < 2:
            time.sleep(0.05)
        ready.set()
        time.sleep(0.5)
        t0 = time.perf_counter()
        go.set()
        results = {r: (s, b, k) for r, s, b, k in (out.get() for _ in parties)}
        wall = time.perf_counter() - t0
        for p in parties:
            p.join()
        manager.shutdown()
    wire = results["bank"][1] + results["partner"][1]
    shared = results["bank"][2]
    assert shared == args.n // 2, shared
    print(f"PSI {args.n:,} x {args.n:,} (50% overlap), 2 party processes, HTTPS mTLS loopback:")
    print(
        f"  wall {wall:.1f}s   bank {results['bank'][0]:.1f}s"
        f"   partner {results['partner'][0]:.1f}s"
    )
    print(
        f"  on the wire {wire / 1e6:.1f} MB (bank->partner {results['bank'][1] / 1e6:.1f} MB, "
        f"partner->bank {results['partner'][1] / 1e6:.1f} MB)"
    )
    print(f"  intersection {shared:,} (bank only)")
    print(f"  ratio to bare scalar mults: {wall / bare:.2f}x")

    if args.openmined_n:
        import private_set_intersection.python as om

        m = args.openmined_n
        a, b = _ids(0, m), _ids(m // 2, m)
        t0 = time.perf_counter()
        client = om.client.CreateWithNewKey(True)
        server = om.server.CreateWithNewKey(True)
        setup = server.CreateSetupMessage(1e-9, len(a), b, om.DataStructure.RAW)
        req = client.CreateRequest(a)
        resp = server.ProcessRequest(req)
        inter = client.GetIntersection(setup, resp)
        om_s = time.perf_counter() - t0
        om_bytes = setup.ByteSize() + req.ByteSize() + resp.ByteSize()
        assert len(inter) == m // 2
        scale = args.n / m
        print(
            f"openmined.psi {m:,} x {m:,} in one process: {om_s:.1f}s, {om_bytes / 1e6:.1f} MB; "
            f"EXTRAPOLATED linearly to {args.n:,}: ~{om_s * scale:.0f}s, "
            f"~{om_bytes * scale / 1e6:.0f} MB; "
            f"ratio openmined/finbridge ~{om_s * scale / wall:.1f}x"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
