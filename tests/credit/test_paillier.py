from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finbridge.core.errors import ValidationError
from finbridge.credit.paillier import (
    Encryptor,
    FixedPoint,
    PackedCodec,
    ParallelEncryptor,
    PublicKey,
    ciphertexts_from_bytes,
    generate_keypair,
)

# Small keys: these tests are about the algebra, not the key size.
PK, SK = generate_keypair(512)
ENC = Encryptor(PK, randomness_bits=256)


@given(st.integers(-(2**60), 2**60), st.integers(-(2**60), 2**60), st.integers(-1000, 1000))
@settings(max_examples=40, deadline=None)
def test_homomorphic_add_and_scalar(a: int, b: int, k: int) -> None:
    ca, cb = ENC.encrypt(a), ENC.encrypt(b)
    assert SK.decrypt_signed(PK.add(ca, cb)) == a + b
    assert SK.decrypt_signed(PK.add_plain(ca, b)) == a + b
    assert SK.decrypt_signed(PK.mul_plain(ca, k)) == a * k


def test_encryption_is_randomised_and_pool_works() -> None:
    assert ENC.encrypt(5) != ENC.encrypt(5)
    pool = ENC.randomness_pool(3)
    cs = ENC.encrypt_many([1, 2, 3], pool=pool)
    assert [SK.decrypt_int(c) for c in cs] == [1, 2, 3]
    with pytest.raises(ValidationError, match="pool smaller"):
        ENC.encrypt_many([1, 2, 3, 4], pool=pool)


def test_packed_values_sum_slot_by_slot() -> None:
    codec = PackedCodec(slots=3, slot_bits=100)
    codec.check_capacity(PK, 1000)
    rows = [[0.5, -1.25, 3.0], [-0.75, 2.0, 0.125], [1.0, 1.0, -4.0]]
    total = PK.sum(ENC.encrypt(codec.pack(r)) for r in rows)
    got = codec.unpack(SK.decrypt_int(total), count=len(rows))
    assert got == pytest.approx([0.75, 1.75, -0.875], abs=1e-6)
    with pytest.raises(ValidationError, match="need 106 bits, slots have 100"):
        codec.check_capacity(PK, 2**60)
    with pytest.raises(ValidationError, match="outside the packing bound"):
        codec.pack([2.0**21])


def test_fixed_point_round_trip() -> None:
    fp = FixedPoint(20)
    c = PK.add(ENC.encrypt(fp.encode(-1.5)), ENC.encrypt(fp.encode(0.25)))
    assert fp.decode(SK.decrypt_signed(c)) == pytest.approx(-1.25)


def test_tampered_or_foreign_ciphertext_refused() -> None:
    with pytest.raises(ValidationError, match="not a ciphertext of this key"):
        PK.from_bytes(b"\xff" * 200)
    with pytest.raises(ValidationError, match="not a ciphertext"):
        SK.decrypt_int(PK.n2 + 5)


def test_key_size_check_with_real_2048_bit_key() -> None:
    pk, sk = generate_keypair(2048)
    assert pk.bits == 2048
    same = PublicKey.from_ints(int(pk.n), int(pk.hs))
    assert sk.decrypt_int(Encryptor(same).encrypt(42)) == 42
    with pytest.raises(ValidationError, match="512 bits is below the required 2048"):
        PublicKey.from_ints(int(PK.n), int(PK.hs))


def test_parallel_encryptor_with_prefetched_randomness() -> None:
    pe = ParallelEncryptor(PK, workers=2)
    try:
        first = ciphertexts_from_bytes(PK, pe.encrypt_bytes(list(range(50))))
        pe.prefetch(300)
        second = ciphertexts_from_bytes(PK, pe.encrypt_bytes(list(range(50, 400))))
    finally:
        pe.close()
    assert [SK.decrypt_int(c) for c in first + second] == list(range(400))
    assert len({int(c) for c in first + second}) == 400  # randomness never reused
