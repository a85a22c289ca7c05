"""Paillier throughput, 2048-bit keys: finbridge (gmpy2, DJN randomness) vs `phe`, same run.

Encryptions/s per core count the randomness: the window-table build is included in the timed
span (amortised over the batch), as is every per-encryption random exponent.
Run: .venv/bin/python benchmarks/credit_paillier.py [--n 5000] [--phe-n 300]
"""

from __future__ import annotations

import argparse
import os
import random
import time

from finbridge.credit.paillier import Encryptor, PackedCodec, generate_keypair


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--phe-n", type=int, default=300)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    pk, sk = generate_keypair(2048)
    values = [random.getrandbits(40) for _ in range(args.n)]

    t0 = time.perf_counter()
    enc = Encryptor(pk)  # window tables: precomputation, counted
    table_s = time.perf_counter() - t0
    cs = enc.encrypt_many(values)
    ours_s = time.perf_counter() - t0
    ours_rate = args.n / ours_s

    k = min(500, args.n)
    t0 = time.perf_counter()
    for c in cs[:k]:
        sk.decrypt_int(c)
    dec_rate = k / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    acc = cs[0]
    for c in cs[1:]:
        acc = pk.add(acc, c)
    add_rate = (args.n - 1) / (time.perf_counter() - t0)
    assert sk.decrypt_int(acc) == sum(values) % int(pk.n)

    codec = PackedCodec(slots=2, slot_bits=96)
    t0 = time.perf_counter()
    packed = [enc.encrypt(codec.pack([0.25, -0.125])) for _ in range(k)]
    packed_rate = 2 * k / (time.perf_counter() - t0)
    assert abs(codec.unpack(sk.decrypt_int(pk.sum(packed)), k)[1] + 0.125 * k) < 1e-3

    from phe import paillier as phe_paillier

    ppk, psk = phe_paillier.generate_paillier_keypair(n_length=2048)
    t0 = time.perf_counter()
    pcs = [ppk.encrypt(v) for v in values[: args.phe_n]]
    phe_rate = args.phe_n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for c in pcs[:100]:
        psk.decrypt(c)
    phe_dec = 100 / (time.perf_counter() - t0)

    print(f"key 2048 bits, batch {args.n}, one core")
    print(f"finbridge encrypt: {ours_rate:,.0f}/s (table build {table_s:.2f}s included)")
    print(f"finbridge encrypt, 2 values packed per ciphertext: {packed_rate:,.0f} values/s")
    print(f"finbridge decrypt (CRT): {dec_rate:,.0f}/s   add: {add_rate:,.0f}/s")
    print(f"phe encrypt: {phe_rate:,.0f}/s   phe decrypt: {phe_dec:,.0f}/s")
    print(f"ratio encrypt finbridge/phe: {ours_rate / phe_rate:.1f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
