"""``finbridge openbanking``: register, approve and list an app; the audit and prune commands;
an operator's reset of one developer's sandbox;
a production signing key from keygen that the server accepts."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from thirdparty_app.client import new_key
from typer.testing import CliRunner

from finbridge.core import Money
from finbridge.core.settings import OpenBankingSettings, Settings
from finbridge.openbanking.keys import server_key
from finbridge.openbanking.sandbox import SandboxBank
from finbridge.platform import Platform


def test_register_approve_list(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    runner = CliRunner(
        env={
            "FINBRIDGE_DATA_DIR": str(tmp_path / "var"),
            "FINBRIDGE_IDENTITY__PASSWORD_HASHING": "fast",
            "COLUMNS": "200",
        }
    )
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [new_key().as_dict(private=False)]}))
    result = runner.invoke(
        app,
        [
            "openbanking",
            "register",
            "--name",
            "Ledgerly",
            "--developer",
            "Ledgerly Ltd",
            "--redirect-uri",
            "https://ledgerly.example/cb",
            "--jwks",
            str(jwks),
            "--scope",
            "accounts",
            "--category",
            "accounting",
            "--initiate-login-uri",
            "https://ledgerly.example/connect",
        ],
    )
    assert result.exit_code == 0, result.output
    client_id = result.output.split("client_id ")[1].split()[0]
    assert "(pending)" in result.output
    assert runner.invoke(app, ["openbanking", "approve", client_id]).exit_code == 0
    listed = runner.invoke(app, ["openbanking", "apps", "--status", "approved"])
    assert client_id in listed.output and "Ledgerly" in listed.output
    assert runner.invoke(app, ["openbanking", "audit"]).exit_code == 0
    used = runner.invoke(app, ["openbanking", "usage", "--client", client_id])
    assert used.exit_code == 0 and "open-banking API usage" in used.output
    assert "0 expired JWT ids" in runner.invoke(app, ["openbanking", "prune"]).output
    private = tmp_path / "bad.json"
    private.write_text(json.dumps({"keys": [new_key().as_dict(private=True)]}))
    refused = runner.invoke(
        app,
        [
            "openbanking",
            "register",
            "--name",
            "X",
            "--developer",
            "X",
            "--redirect-uri",
            "https://x.example/cb",
            "--jwks",
            str(private),
            "--scope",
            "accounts",
        ],
    )
    assert refused.exit_code != 0 and "private key" in refused.output

    # Keys at a JWKS URI instead; a logo re-drawn as our PNG, a bad file refused.
    common = ["openbanking", "register", "--name", "Keyhost", "--developer", "K",
              "--redirect-uri", "https://k.example/cb", "--scope", "accounts"]  # fmt: skip
    by_uri = runner.invoke(app, [*common, "--jwks-uri", "https://keys.k.example/jwks"])
    assert by_uri.exit_code == 0, by_uri.output
    image = tmp_path / "logo.png"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(image, "PNG")
    set_logo = runner.invoke(app, ["openbanking", "logo", client_id, str(image)])
    assert set_logo.exit_code == 0 and "logo set for Ledgerly" in set_logo.output
    image.write_bytes(b"<svg/>")
    assert runner.invoke(app, ["openbanking", "logo", client_id, str(image)]).exit_code != 0


def test_keygen_makes_a_key_the_server_uses(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    jwk = CliRunner().invoke(app, ["openbanking", "keygen"]).output.strip()
    settings = Settings(
        env="test", data_dir=tmp_path, openbanking=OpenBankingSettings(signing_key=jwk)
    )  # type: ignore[arg-type]
    assert server_key(settings).as_dict(private=True)["d"] == json.loads(jwk)["d"]


def _pay_in_sandbox(bank: SandboxBank, developer: str, amount: str) -> str:
    """Move ``amount`` between the first two accounts of one currency; the debited account."""
    by_currency: dict[str, list[str]] = {}
    for customer in bank.customers(developer):
        for account in customer.accounts:
            by_currency.setdefault(account.currency, []).append(account.id)
    currency, (debtor, creditor, *_) = next((c, ids) for c, ids in by_currency.items()
                                            if len(ids) > 1)  # fmt: skip
    bank.transfer(developer, debtor, creditor, Money.of(amount, currency),
                  reference="cli-test", description="before the reset")  # fmt: skip
    return debtor


def test_sandbox_reset_puts_back_the_named_developers_sandbox(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    env = {"FINBRIDGE_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    runner = CliRunner(env=env)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    platform = Platform.build(Settings(data_dir=tmp_path / "var"))
    try:
        bank = platform.openbanking.sandbox
        bank.seed("dev-a")
        bank.seed("dev-b")
        a = _pay_in_sandbox(bank, "dev-a", "7.00")
        b = _pay_in_sandbox(bank, "dev-b", "3.00")
        a_paid, b_paid = bank.account("dev-a", a).balance, bank.account("dev-b", b).balance

        result = runner.invoke(app, ["openbanking", "sandbox-reset", "dev-a"])
        assert result.exit_code == 0, result.output
        out = " ".join(result.output.split())
        customers = bank.customers("dev-a")
        accounts = sum(len(c.accounts) for c in customers)
        assert "sandbox of dev-a reset at" in out
        assert f"{len(customers)} customers, {accounts} accounts" in out
        # dev-a's money is back as seeded (7.00 more than after the payment); dev-b's stands.
        assert bank.account("dev-a", a).balance == a_paid + Money.of("7.00", a_paid.code)
        assert bank.account("dev-b", b).balance == b_paid
    finally:
        platform.close()

    refused = runner.invoke(app, ["openbanking", "sandbox-reset", "  "])
    assert refused.exit_code == 2 and "developer" in refused.output
