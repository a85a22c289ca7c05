"""Fast Paillier encryption on gmpy2 (g = n + 1, DJN randomness, CRT decryption, packing).

Encryption is ``c = (1 + m n) * r mod n^2``. The expensive part of textbook Paillier is the
randomness ``r = x^n mod n^2`` (a 2048-bit exponent modulo a 4096-bit number). We use the
Damgård-Jurik-Nielsen variant instead: the key holder publishes ``hs = h^n mod n^2`` for a random
square ``h`` and each encryption draws ``r = hs^a`` with a fresh random ``a`` of ``|n|/2`` bits
(1024 bits for a 2048-bit key, the length DJN prescribe). ``hs`` is a fixed base, so ``hs^a`` is a
product of ``|a|/w`` entries of a precomputed window table (w = 8: 128 multiplications instead of
~3000 for a full exponentiation). The choice is argued in docs/decisions.md.

Decryption uses the CRT over p^2 and q^2 (about 4x faster than mod n^2). ``PackedCodec`` puts
several fixed-point values in one plaintext so one ciphertext carries, for example, a gradient and
a hessian, and one decryption returns many bin sums.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gmpy2
from gmpy2 import mpz

from finbridge.core.errors import ValidationError

DEFAULT_KEY_BITS = 2048
MIN_KEY_BITS = 2048
WINDOW_BITS = 8


def _random_prime(bits: int) -> mpz:
    while True:
        # Top two bits set so p*q has exactly 2*bits bits.
        candidate = mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)) | 1
        p = gmpy2.next_prime(candidate)
        if p.bit_length() == bits:
            return p


@dataclass(frozen=True)
class PublicKey:
    """``n`` and the DJN base ``hs``; everything else is derived."""

    n: mpz
    hs: mpz
    n2: mpz = field(init=False, repr=False)
    bits: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n2", self.n * self.n)
        object.__setattr__(self, "bits", int(self.n.bit_length()))

    @classmethod
    def from_ints(cls, n: int, hs: int, *, min_bits: int = MIN_KEY_BITS) -> PublicKey:
        """Rebuild a peer's key, refusing sizes below ``min_bits`` (mismatched key sizes)."""
        n_, hs_ = mpz(n), mpz(hs)
        if n_.bit_length() < min_bits:
            raise ValidationError(
                f"Paillier key of {n_.bit_length()} bits is below the required {min_bits}",
                field="public_key",
            )
        if not (0 < hs_ < n_ * n_) or n_ % 2 == 0:
            raise ValidationError("malformed Paillier public key", field="public_key")
        return cls(n_, hs_)

    @property
    def max_plain(self) -> mpz:
        return self.n // 3

    def check(self, c: mpz) -> mpz:
        """Refuse values that cannot be ciphertexts under this key (tampered or foreign)."""
        if not (0 < c < self.n2):
            raise ValidationError("value is not a ciphertext of this key", field="ciphertext")
        return c

    # -- homomorphic operations ---------------------------------------------------------------
    def add(self, a: mpz, b: mpz) -> mpz:
        return a * b % self.n2

    def add_plain(self, c: mpz, m: int) -> mpz:
        return c * ((1 + mpz(m) % self.n * self.n) % self.n2) % self.n2

    def mul_plain(self, c: mpz, k: int) -> mpz:
        if k < 0:
            return gmpy2.powmod(gmpy2.invert(c, self.n2), -k, self.n2)
        return gmpy2.powmod(c, k, self.n2)

    def sum(self, cs: Iterable[mpz]) -> mpz:
        acc = mpz(1)
        n2 = self.n2
        for c in cs:
            acc = acc * c % n2
        return acc

    def to_bytes(self, c: mpz) -> bytes:
        return int(c).to_bytes((self.n2.bit_length() + 7) // 8, "big")

    def from_bytes(self, data: bytes) -> mpz:
        return self.check(mpz(int.from_bytes(data, "big")))


class Encryptor:
    """Encrypts under a public key with fixed-base window tables for the DJN randomness."""

    def __init__(self, pk: PublicKey, *, randomness_bits: int | None = None) -> None:
        self.pk = pk
        self.randomness_bits = randomness_bits or pk.bits // 2
        if self.randomness_bits < 224:
            raise ValidationError("randomness exponent below 224 bits", field="randomness_bits")
        windows = -(-self.randomness_bits // WINDOW_BITS)
        n2 = pk.n2
        table: list[list[mpz]] = []
        base = pk.hs
        for _ in range(windows):
            row = [mpz(1)]
            for _ in range((1 << WINDOW_BITS) - 1):
                row.append(row[-1] * base % n2)
            table.append(row)
            base = row[-1] * base % n2  # base^(2^w)
        self._table = table
        self._mask = (1 << WINDOW_BITS) - 1

    def randomness(self) -> mpz:
        """A fresh ``hs^a mod n^2`` from the window table."""
        a = secrets.randbits(self.randomness_bits)
        n2 = self.pk.n2
        mask = self._mask
        acc = mpz(1)
        for row in self._table:
            acc = acc * row[a & mask] % n2
            a >>= WINDOW_BITS
        return acc

    def randomness_pool(self, k: int) -> list[mpz]:
        """Precompute ``k`` random factors ahead of time (e.g. while waiting for a peer)."""
        return [self.randomness() for _ in range(k)]

    def encrypt(self, m: int, r: mpz | None = None) -> mpz:
        pk = self.pk
        g_m = (1 + (mpz(m) % pk.n) * pk.n) % pk.n2
        return g_m * (self.randomness() if r is None else r) % pk.n2

    def encrypt_many(self, ms: Sequence[int], pool: Sequence[mpz] | None = None) -> list[mpz]:
        if pool is not None and len(pool) < len(ms):
            raise ValidationError("randomness pool smaller than the batch", field="pool")
        if pool is None:
            return [self.encrypt(m) for m in ms]
        return [self.encrypt(m, r) for m, r in zip(ms, pool, strict=False)]


@dataclass(frozen=True)
class PrivateKey:
    public: PublicKey
    p: mpz
    q: mpz
    _crt: tuple[mpz, mpz, mpz, mpz, mpz, mpz] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p, q = self.p, self.q
        p2, q2 = p * p, q * q
        g = self.public.n + 1
        hp = gmpy2.invert((gmpy2.powmod(g, p - 1, p2) - 1) // p, p)
        hq = gmpy2.invert((gmpy2.powmod(g, q - 1, q2) - 1) // q, q)
        object.__setattr__(self, "_crt", (p2, q2, hp, hq, gmpy2.invert(p, q), p))

    def decrypt_int(self, c: mpz) -> mpz:
        """Plaintext in [0, n) by CRT over p^2 and q^2."""
        self.public.check(c)
        p2, q2, hp, hq, p_inv_q, p = self._crt
        q = self.q
        mp = (gmpy2.powmod(c % p2, p - 1, p2) - 1) // p * hp % p
        mq = (gmpy2.powmod(c % q2, q - 1, q2) - 1) // q * hq % q
        return mp + ((mq - mp) * p_inv_q % q) * p

    def decrypt_signed(self, c: mpz) -> int:
        """Plaintext as a signed integer (values above n/2 are negative)."""
        m = self.decrypt_int(c)
        n = self.public.n
        return int(m - n) if m > n // 2 else int(m)


def generate_keypair(bits: int = DEFAULT_KEY_BITS) -> tuple[PublicKey, PrivateKey]:
    """A fresh key pair; bits below 2048 only for protocol tests (callers enforce the size)."""
    if bits < 256 or bits % 2:
        raise ValidationError("key size must be an even number of bits >= 256", field="bits")
    while True:
        p, q = _random_prime(bits // 2), _random_prime(bits // 2)
        if p != q:
            break
    n = p * q
    x = mpz(secrets.randbelow(int(n) - 2)) + 2
    h = (-(x * x)) % n  # a random element of the (squares) subgroup, negated as in DJN
    hs = gmpy2.powmod(h, n, n * n)
    pk = PublicKey(n, hs)
    return pk, PrivateKey(pk, p, q)


@dataclass(frozen=True)
class FixedPoint:
    """Signed fixed-point numbers as Paillier plaintexts (mod n)."""

    frac_bits: int = 32

    def encode(self, value: float) -> int:
        return round(value * (1 << self.frac_bits))

    def decode(self, m: int) -> float:
        return m / (1 << self.frac_bits)


@dataclass(frozen=True)
class PackedCodec:
    """Several signed fixed-point values in one plaintext, in ``slot_bits``-wide slots.

    Each slot stores ``value * 2^frac_bits + offset`` so it stays non-negative; after adding
    ``count`` packed plaintexts each slot holds the sum plus ``count * offset``, which ``unpack``
    removes. ``slot_bits`` must leave room for the largest sum: see :meth:`check_capacity`.
    """

    slots: int
    slot_bits: int = 80
    frac_bits: int = 24
    value_bound: float = 2.0**20  # |value| must stay below this

    @property
    def offset(self) -> int:
        return int(self.value_bound * (1 << self.frac_bits))

    def check_capacity(self, pk: PublicKey, count: int) -> None:
        if self.slots * self.slot_bits >= pk.bits - 2:
            raise ValidationError("too many slots for the key size", field="slots")
        need = (2 * self.offset * count).bit_length()
        if need >= self.slot_bits:
            raise ValidationError(
                f"sums of {count} values need {need} bits, slots have {self.slot_bits}",
                field="slot_bits",
            )

    def pack(self, values: Sequence[float]) -> int:
        if len(values) > self.slots:
            raise ValidationError(f"at most {self.slots} values per plaintext", field="values")
        out = 0
        scale = 1 << self.frac_bits
        for i, v in enumerate(values):
            if not abs(v) < self.value_bound:
                raise ValidationError(f"value {v} outside the packing bound", field="values")
            out |= (round(v * scale) + self.offset) << (self.slot_bits * i)
        return out

    def pack_ints(self, values: Sequence[int]) -> int:
        """Pack already scaled integers (``value * 2^frac_bits``)."""
        out = 0
        for i, v in enumerate(values):
            out |= (int(v) + self.offset) << (self.slot_bits * i)
        return out

    def unpack(self, m: int, count: int, n_values: int | None = None) -> list[float]:
        mask = (1 << self.slot_bits) - 1
        scale = float(1 << self.frac_bits)
        m = int(m)
        return [
            ((m >> (self.slot_bits * i)) & mask) / scale - count * self.offset / scale
            for i in range(n_values or self.slots)
        ]


_WORKER: Encryptor | None = None


def _init_worker(n: int, hs: int, randomness_bits: int) -> None:
    global _WORKER
    _WORKER = Encryptor(PublicKey(mpz(n), mpz(hs)), randomness_bits=randomness_bits)


_PREPARED: list[mpz] = []  # this worker's randomness computed ahead, each used exactly once
PREFETCH_CHUNK = 256
PREFETCH_CAP = 20_000


def _prefetch(k: int) -> int:
    assert _WORKER is not None
    if len(_PREPARED) < PREFETCH_CAP:
        _PREPARED.extend(_WORKER.randomness() for _ in range(k))
    return len(_PREPARED)


def _encrypt_chunk(ms: list[int]) -> bytes:
    assert _WORKER is not None
    enc = _WORKER
    width = (enc.pk.n2.bit_length() + 7) // 8
    out = []
    for m in ms:
        r = _PREPARED.pop() if _PREPARED else None
        out.append(int(enc.encrypt(m, r)).to_bytes(width, "big"))
    return b"".join(out)


class ParallelEncryptor:
    """Encrypts batches in worker processes (each builds its own window table once).

    Returns wire bytes (fixed-width big-endian ciphertexts) because that is what the protocols
    send; ``workers=1`` encrypts in-process.
    """

    def __init__(self, pk: PublicKey, workers: int = 1) -> None:
        self.pk = pk
        self.width = (pk.n2.bit_length() + 7) // 8
        self._local = Encryptor(pk) if workers <= 1 else None
        self._pool = None
        self._pending: list[Any] = []
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: party processes run server threads, and forking a process while
            # another thread holds a lock can deadlock the child.
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(int(pk.n), int(pk.hs), pk.bits // 2),
            )
            self._workers = workers

    def prefetch(self, k: int) -> None:
        """Let idle workers compute ``k`` random factors ahead (e.g. while the peer works).

        Pending prefetch work is cancelled when the next batch arrives, so it never delays
        an encryption by more than one small chunk per worker.
        """
        if self._pool is None:
            return
        self._pending = [
            self._pool.submit(_prefetch, PREFETCH_CHUNK) for _ in range(-(-k // PREFETCH_CHUNK))
        ]

    def encrypt_bytes(self, ms: Sequence[int]) -> bytes:
        for f in self._pending:
            f.cancel()
        self._pending = []
        if self._local is not None:
            enc = self._local
            return b"".join(int(enc.encrypt(m)).to_bytes(self.width, "big") for m in ms)
        assert self._pool is not None
        chunk = -(-len(ms) // (self._workers * 4)) or 1
        parts = [list(ms[i : i + chunk]) for i in range(0, len(ms), chunk)]
        return b"".join(self._pool.map(_encrypt_chunk, parts))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def ciphertexts_from_bytes(pk: PublicKey, data: bytes) -> list[mpz]:
    """Parse fixed-width ciphertexts, refusing any that is out of range for the key."""
    width = (pk.n2.bit_length() + 7) // 8
    if len(data) % width:
        raise ValidationError("ciphertext block has a partial ciphertext", field="ciphertext")
    return [pk.from_bytes(data[i : i + width]) for i in range(0, len(data), width)]


def ciphertexts_to_bytes(pk: PublicKey, cs: Iterable[mpz]) -> bytes:
    width = (pk.n2.bit_length() + 7) // 8
    return b"".join(int(c).to_bytes(width, "big") for c in cs)


def repack(pk: PublicKey, cs: Sequence[mpz], shift_bits: int) -> list[mpz]:
    """Fold several ciphertexts into one by homomorphic shifting (Horner), so one decryption
    returns many sums. Each input's plaintext must be below 2^shift_bits."""
    per = (pk.bits - 8) // shift_bits
    if per < 1:
        raise ValidationError("shift wider than the key's plaintext space", field="shift_bits")
    out = []
    n2 = pk.n2
    step = mpz(1) << shift_bits
    for i in range(0, len(cs), per):
        group = cs[i : i + per]
        acc = group[-1]
        for c in reversed(group[:-1]):
            acc = gmpy2.powmod(acc, step, n2) * c % n2
        out.append(acc)
    return out


def unpack_repacked(
    sk: PrivateKey, packed: Sequence[mpz], count: int, shift_bits: int
) -> list[int]:
    """Decrypt repacked ciphertexts back into ``count`` plaintext integers."""
    per = (sk.public.bits - 8) // shift_bits
    mask = (1 << shift_bits) - 1
    out: list[int] = []
    for c in packed:
        m = int(sk.decrypt_int(c))
        for _ in range(per):
            if len(out) == count:
                break
            out.append(m & mask)
            m >>= shift_bits
    if len(out) != count:
        raise ValidationError("repacked block has the wrong number of values", field="count")
    return out
