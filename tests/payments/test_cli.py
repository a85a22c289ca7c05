"""``finbridge payments``: rates, merchants, codes, pacs.008 export and status import."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.settings_support import test_settings as make_settings
from typer.testing import CliRunner

from finbridge.banking import BankingService
from finbridge.cli.main import app
from finbridge.core import ManualClock, Money, Principal
from finbridge.payments import Beneficiary, PaymentsService
from finbridge.store import make_engine


@pytest.fixture
def data_dir(_sqlite_template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    return data


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    return CliRunner(env={"FINBRIDGE_DATA_DIR": str(data_dir), "FINBRIDGE_DATABASE_URL": None,
                          "FINBRIDGE_LAKE_DIR": None, "COLUMNS": "200"})  # fmt: skip


def test_cli_end_to_end(
    runner: CliRunner, data_dir: Path, tmp_path: Path, clock: ManualClock
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'finbridge.db'}")
    system = Principal.system("t")
    bank = BankingService(engine, clock)
    cid = bank.create_customer(system, kind="personal", display_name="Ada Wang").id
    eur = bank.open_account(system, cid, kind="current", currency_code="EUR").id
    bank.deposit(system, eur, Money.of("100", "EUR"), idempotency_key="f")
    pay = PaymentsService(engine, clock, make_settings(data_dir), banking=bank)
    t = pay.crossborder.send(
        Principal.customer(cid), from_account_id=eur, amount=Money.of("40", "EUR"),
        beneficiary=Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                                iban="DE89370400440532013000"),
        idempotency_key="k",
    )  # fmt: skip
    rates = runner.invoke(app, ["payments", "rates", "USD", "CNY", "--days", "10"])
    assert rates.exit_code == 0 and "USD/CNY" in rates.output
    onboard = runner.invoke(app, ["payments", "onboard", "--name", "Tea", "--mcc", "5812",
                                  "--account", eur, "--fee-rate", "0.006"])  # fmt: skip
    assert onboard.exit_code == 0, onboard.output
    listed = runner.invoke(app, ["payments", "merchants"])
    assert "Tea" in listed.output
    bad = runner.invoke(app, ["payments", "onboard", "--name", "X", "--mcc", "1", "--account",
                              eur, "--fee-rate", "0.006"])  # fmt: skip
    assert bad.exit_code == 2 and "mcc" in bad.output
    out = tmp_path / "out"
    exported = runner.invoke(app, ["payments", "export-pacs008", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    [message] = list(out.glob("*.pacs008.xml"))
    assert t.end_to_end_id in message.read_text()
    status = tmp_path / "status.xml"
    status.write_text(f"""<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12">
<FIToFIPmtStsRpt><GrpHdr><MsgId>S</MsgId><CreDtTm>2026-11-02T10:00:00</CreDtTm></GrpHdr>
<TxInfAndSts><OrgnlEndToEndId>{t.end_to_end_id}</OrgnlEndToEndId><TxSts>RJCT</TxSts>
</TxInfAndSts></FIToFIPmtStsRpt></Document>""")
    received = runner.invoke(app, ["payments", "receive", str(status)])
    assert received.exit_code == 0 and "rejected 1" in received.output
    assert bank.balance(system, eur).available == Money.of("100", "EUR")


def test_cli_camt053_writes_an_xsd_valid_statement(
    runner: CliRunner, data_dir: Path, tmp_path: Path, clock: ManualClock
) -> None:
    from finbridge.core.clock import business_date
    from finbridge.payments import iso20022 as iso
    from finbridge.payments.iso20022.camt053 import CAMT053

    engine = make_engine(f"sqlite:///{data_dir / 'finbridge.db'}")
    system = Principal.system("t")
    bank = BankingService(engine, clock)
    cid = bank.create_customer(system, kind="personal", display_name="Ada Wang").id
    eur = bank.open_account(system, cid, kind="current", currency_code="EUR").id
    bank.deposit(system, eur, Money.of("100", "EUR"), idempotency_key="f")
    day = business_date(clock.now(), "Asia/Shanghai").isoformat()  # long over by the real clock
    out = tmp_path / "statement.xml"
    done = runner.invoke(app, ["payments", "camt053", eur, day, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "1 entries, XSD-valid" in done.output
    iso.validate(out.read_bytes(), CAMT053)
    bad = runner.invoke(app, ["payments", "camt053", eur, "2026-13-01"])
    assert bad.exit_code == 2 and "day" in bad.output


def test_cli_import_pain001(
    runner: CliRunner, data_dir: Path, tmp_path: Path, clock: ManualClock
) -> None:
    from tests.payments.test_pain001 import GOOD, _pain001, _tx

    engine = make_engine(f"sqlite:///{data_dir / 'finbridge.db'}")
    system = Principal.system("t")
    bank = BankingService(engine, clock)
    cid = bank.create_customer(system, kind="personal", display_name="Ada Wang").id
    eur = bank.open_account(system, cid, kind="current", currency_code="EUR").id
    bank.deposit(system, eur, Money.of("100", "EUR"), idempotency_key="f")
    batch = tmp_path / "batch.xml"
    batch.write_bytes(_pain001(eur, [_tx("E1", "40.00", GOOD)], 1, "40.00"))
    done = runner.invoke(app, ["payments", "import-pain001", str(batch)])
    assert done.exit_code == 0 and "1 transfers (0 already imported" in done.output, done.output
    assert bank.balance(system, eur).available == Money.of("60", "EUR")
    batch.write_bytes(_pain001(eur, [_tx("E1", "40.00", GOOD)], 2, "40.00"))
    bad = runner.invoke(app, ["payments", "import-pain001", str(batch)])
    assert bad.exit_code == 2 and "NbOfTxs" in bad.output


def test_cli_relay_to_the_correspondent(
    runner: CliRunner, data_dir: Path, tmp_path: Path, clock: ManualClock
) -> None:
    """``payments relay`` sends the ready pacs.008 over mutual TLS and applies the answer
    (here an in-process correspondent that rejects everything at once)."""
    from finbridge.correspondent import CorrespondentServer
    from finbridge.credit import make_certificates
    from finbridge.payments import SimulatedCorrespondent

    engine = make_engine(f"sqlite:///{data_dir / 'finbridge.db'}")
    system = Principal.system("t")
    bank = BankingService(engine, clock)
    cid = bank.create_customer(system, kind="personal", display_name="Ada Wang").id
    eur = bank.open_account(system, cid, kind="current", currency_code="EUR").id
    bank.deposit(system, eur, Money.of("100", "EUR"), idempotency_key="f")
    pay = PaymentsService(engine, clock, make_settings(data_dir), banking=bank)
    pay.crossborder.send(
        Principal.customer(cid), from_account_id=eur, amount=Money.of("40", "EUR"),
        beneficiary=Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                                iban="DE89370400440532013000"),
        idempotency_key="k",
    )  # fmt: skip
    certs = tmp_path / "certs"
    make_certificates(certs, days=2)
    bank_side = SimulatedCorrespondent(reject_rate=1.0)
    server = CorrespondentServer(bank_side, certs, seconds_per_day=0.0001).serve_in_background()
    try:
        done = runner.invoke(app, ["payments", "relay", server.url, "--certs", str(certs)])
    finally:
        server.close()
    assert done.exit_code == 0, done.output
    assert "sent 1 messages; settled 0, rejected 1" in done.output
    assert bank.balance(system, eur).available == Money.of("100", "EUR")


def test_an_undelivered_pacs008_is_sent_again_and_answered_once(
    runner: CliRunner, data_dir: Path, tmp_path: Path, clock: ManualClock
) -> None:
    """The correspondent is down: the transfer goes back to ready; once it is up the next
    relay sends it again; a copy it already had is not answered twice."""
    from finbridge.correspondent import CorrespondentServer
    from finbridge.credit import make_certificates
    from finbridge.payments import SimulatedCorrespondent

    engine = make_engine(f"sqlite:///{data_dir / 'finbridge.db'}")
    system = Principal.system("t")
    bank = BankingService(engine, clock)
    cid = bank.create_customer(system, kind="personal", display_name="Ada Wang").id
    eur = bank.open_account(system, cid, kind="current", currency_code="EUR").id
    bank.deposit(system, eur, Money.of("100", "EUR"), idempotency_key="f")
    pay = PaymentsService(engine, clock, make_settings(data_dir), banking=bank)
    t = pay.crossborder.send(
        Principal.customer(cid), from_account_id=eur, amount=Money.of("40", "EUR"),
        beneficiary=Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                                iban="DE89370400440532013000"),
        idempotency_key="k",
    )  # fmt: skip
    certs = tmp_path / "certs"
    make_certificates(certs, days=2)
    server = CorrespondentServer(SimulatedCorrespondent(), certs, seconds_per_day=0.0001)
    url = server.url
    server.close()  # bound, then gone: nobody answers there
    down = runner.invoke(app, ["payments", "relay", url, "--certs", str(certs)])
    assert down.exit_code != 0
    assert pay.crossborder.get(system, t.id).status == "ready"
    correspondent = SimulatedCorrespondent(reject_rate=0.0, return_rate=0.0)
    again = CorrespondentServer(correspondent, certs, seconds_per_day=0.0001)
    again.serve_in_background()
    try:
        up = runner.invoke(app, ["payments", "relay", again.url, "--certs", str(certs)])
        assert up.exit_code == 0, up.output
        assert "sent 1 messages; settled 1" in up.output
        xml = pay.crossborder.message(system, t.id)
        assert xml is not None and correspondent.process(xml.encode()) == []  # answered once
    finally:
        again.close()
    assert bank.balance(system, eur).balance == Money.of("60", "EUR")
