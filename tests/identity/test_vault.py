"""PII vault: AES-GCM with key ids, binding to the row, rotation, blind index, masking."""

from __future__ import annotations

import logging

import pytest

from finbridge.core import Settings
from finbridge.identity.vault import (
    PiiVault,
    VaultError,
    generate_key_spec,
    install_log_masking,
    mask_card,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
    parse_keys,
)


def _vault(spec: str) -> PiiVault:
    return PiiVault.from_settings(Settings(env="test", pii_keys=spec))


def test_round_trip_and_key_id_in_ciphertext() -> None:
    vault = _vault(generate_key_spec("k1"))
    ct = vault.encrypt("11010519491231002X", context="persons.id:c1")
    assert ct.startswith("v1:k1:") and "1101051949" not in ct
    assert vault.decrypt(ct, context="persons.id:c1") == "11010519491231002X"
    assert vault.encrypt("same", context="x") != vault.encrypt("same", context="x")  # random nonce


def test_ciphertext_bound_to_its_row_and_tamper_evident() -> None:
    vault = _vault(generate_key_spec("k1"))
    ct = vault.encrypt("13812345678", context="persons.phone:alice")
    with pytest.raises(VaultError, match="failed authentication"):
        vault.decrypt(ct, context="persons.phone:mallory")  # copied into another customer's row
    flipped = ct[:-2] + ("A" if ct[-2] != "A" else "B") + ct[-1]
    with pytest.raises(VaultError, match="failed authentication"):
        vault.decrypt(flipped, context="persons.phone:alice")
    with pytest.raises(VaultError, match="not a vault ciphertext"):
        vault.decrypt("plaintext", context="persons.phone:alice")


def test_rotation_old_values_open_and_reencrypt_to_newest() -> None:
    old_spec = generate_key_spec("k1")
    old = _vault(old_spec)
    ct = old.encrypt("secret", context="c")
    rotated = _vault(f"{generate_key_spec('k2')},{old_spec}")
    assert rotated.current_key_id == "k2" and rotated.needs_reencryption(ct)
    assert rotated.decrypt(ct, context="c") == "secret"
    new_ct = rotated.reencrypt(ct, context="c")
    assert new_ct.startswith("v1:k2:") and not rotated.needs_reencryption(new_ct)
    with pytest.raises(VaultError, match="no vault key 'k2'"):
        old.decrypt(new_ct, context="c")


def test_blind_index_is_keyed_deterministic_and_separated_by_kind() -> None:
    vault = _vault(generate_key_spec("k1"))
    a = vault.blind_index("13812345678", kind="phone")
    assert a == vault.blind_index("13812345678", kind="phone")
    assert a != vault.blind_index("13812345678", kind="card")
    other_secret = PiiVault.from_settings(
        Settings(env="test", secret_key="another-secret-value-xxxxxxxxxxxxxxxx")
    )
    assert a != other_secret.blind_index("13812345678", kind="phone")


def test_dev_key_only_outside_production() -> None:
    vault = PiiVault.from_settings(Settings(env="development"))
    assert vault.current_key_id == "dev"
    with pytest.raises(ValueError, match="PII_KEYS"):
        Settings(env="production", secret_key="Zx9!kq2Lm#4vB7nR1tY6wE3uI8oP0aSdFgHj")


@pytest.mark.parametrize(
    ("spec", "message"),
    [("k1", "look like"), ("k1:AAAA", "32 bytes"), ("", "empty"), ("bad id!:AAAA", "look like")],
)
def test_bad_key_specs_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_keys(spec)


def test_masks() -> None:
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_card("6222021234567890128") == "622202*********0128"
    assert mask_name("张三丰") == "张**"
    assert mask_name("Anna Lee") == "A*** L**"


def test_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_log_masking("finbridge.test")
    logger = logging.getLogger("finbridge.test")
    with caplog.at_level(logging.INFO, logger="finbridge.test"):
        logger.info(
            "customer %s phone %s card %s",
            "11010519491231002X",
            "13812345678",
            "6222021234567890128",
        )
    text = caplog.text
    assert "11010519491231002X" not in text and "13812345678" not in text
    assert "110***********002X" in text and "138****5678" in text and "622202*********0128" in text
    assert mask_text("order 12345 ok") == "order 12345 ok"


def test_access_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_log_masking()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", "/console/identity?q=13812345678", 200
        )
    assert "13812345678" not in caplog.text and "q=138****5678" in caplog.text
