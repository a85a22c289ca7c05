"""``finbridge risk``: train the fraud model, backtest rule sets, replay transaction files."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from finbridge.cli.context import cli_settings, console, err_console, platform_context
from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.core.principal import Principal

DEFAULT_DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "datasets"
HANDBOOK_FILE = "fraud/fdh_simulated_transactions_183d.parquet"
CLI_ACTOR = Principal.system("risk-cli")
INGEST_CHUNK = 20_000  # rows per upload: about 6 MB of JSON Lines, under the 20 MB cap


def _spec(path: Path):  # type: ignore[no-untyped-def]
    from finbridge.risk import RuleSetSpec

    try:
        return RuleSetSpec.from_json(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read rule set {path}: {exc}", field="rules") from None


def _rule_set(path: Path | None):  # type: ignore[no-untyped-def]
    from finbridge.risk import compile_rule_set

    return compile_rule_set(None if path is None else _spec(path))


def _load_rules(path: Path | None):  # type: ignore[no-untyped-def]
    """The rule set, or a plain error and exit code 2 (not a traceback) when it is invalid."""
    try:
        return _rule_set(path)
    except FinbridgeError as exc:
        err_console.print(f"[bold red]error[/]: {exc}")
        raise typer.Exit(2) from None


def _mapping(path: Path | None, **flags: str | None):  # type: ignore[no-untyped-def]
    """The column mapping: the YAML file's (or the handbook's names), then the flags."""
    from finbridge.risk import ColumnMapping, load_mapping

    if flags.get("time_unit") == "ms":
        flags["time_unit"] = "milliseconds"
    try:
        base = load_mapping(path) if path else ColumnMapping()
        return base.merged(**flags)
    except FinbridgeError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None


def _report_table(report: dict) -> Table:  # type: ignore[type-arg]
    table = Table("measure", "value")
    for key in (
        "rule_set", "events", "labelled_frauds", "flagged", "true_positives", "precision",
        "recall", "money_caught", "money_fraud_total", "customers_disturbed", "outcomes",
    ):  # fmt: skip
        table.add_row(key, str(report[key]))
    return table


def register(app: typer.Typer) -> None:
    risk = typer.Typer(help="Risk control: model, backtests, replays.", no_args_is_help=True)

    @risk.command("schema")
    def schema_cmd() -> None:
        """The transaction schema a bank's own file is mapped onto (train, replay, backtest)."""
        from finbridge.risk import TRANSACTION_SCHEMA

        table = Table("field", "type", "required", "meaning", "flag")
        for name, kind, required, meaning in TRANSACTION_SCHEMA:
            table.add_row(name, kind, required, meaning, f"--{name.replace('_', '-')} COLUMN")
        console.print(table)
        console.print(
            "A YAML --mapping file holds the same keys (plus time_unit: auto | datetime | "
            "seconds | milliseconds, time_origin for numeric times); flags override it."
        )

    @risk.command("train")
    def train_cmd(
        data: Path | None = typer.Option(
            None, help="Your own labelled transactions (CSV/Parquet); map columns below."
        ),
        label: str | None = typer.Option(None, help="Fraud label column (0/1)."),
        time: str | None = typer.Option(None, "--time", help="Time column."),
        amount: str | None = typer.Option(None, help="Amount column."),
        customer: str | None = typer.Option(
            None, help="Card or customer column ('none': each transaction its own card)."
        ),
        terminal: str | None = typer.Option(None, help="Merchant/terminal/category column."),
        mapping: Path | None = typer.Option(None, help="YAML column mapping (schema keys)."),
        time_unit: str | None = typer.Option(None, help="auto | datetime | seconds | ms."),
        train_days: int = typer.Option(7, help="Training window (days) with --data."),
        delay_days: int = typer.Option(7, help="Feedback delay (days) with --data."),
        test_days: int = typer.Option(7, help="Test window (days) with --data."),
        data_dir: Path = typer.Option(DEFAULT_DATA, help="Folder holding fraud/ (shared data)."),
        out: Path | None = typer.Option(None, help="Model file (default: the shipped artifact)."),
        rounds: int = typer.Option(400, help="LightGBM boosting rounds."),
        register: bool = typer.Option(
            False,
            "--register",
            help="Store it in the model registry (<data dir>/risk/models/<version>.json), not the "
            "shipped artifact; put it in shadow with POST /v1/risk/models/shadow.",
        ),
        version: str | None = typer.Option(
            None, help="Registry version name with --register (default: the model's own)."
        ),
    ) -> None:
        """Train LightGBM point in time (train window, feedback delay, test window); print it
        beside the logistic baseline. With --data, on your own labelled file (registered, or
        saved to --out); without, on the fraud handbook's simulated data."""
        from finbridge.risk import (
            SHIPPED_MODEL,
            check_model_version,
            model_registry_dir,
            register_model,
            train_file_model,
            train_handbook_model,
        )

        problem = None
        if register and out is not None:
            problem = "--out and --register exclude each other"
        elif version is not None and not register:
            problem = "--version names a registry entry: add --register"
        elif version is not None:
            try:
                check_model_version(version)
            except FinbridgeError as exc:
                problem = str(exc)
        platform_data = cli_settings().data_dir
        directory = model_registry_dir(platform_data)
        if not problem and version is not None and (directory / f"{version}.json").exists():
            problem = f"model version {version} is already registered"
        if problem:
            err_console.print(f"[bold red]error[/]: {problem}")
            raise typer.Exit(2)
        facts: dict[str, object] | None = None
        if data is not None:
            if out is None:
                register = True  # a user's model never overwrites the shipped artifact
            m = _mapping(mapping, label=label, time=time, amount=amount, customer=customer,
                         terminal=terminal, time_unit=time_unit)  # fmt: skip
            windows = f"train {train_days} d, delay {delay_days} d, test {test_days} d"
            try:
                with console.status(f"point-in-time features, then training ({windows})..."):
                    model, metrics, facts = train_file_model(
                        data, m, train_days=train_days, delay_days=delay_days,
                        test_days=test_days, rounds=rounds,
                    )  # fmt: skip
            except FinbridgeError as exc:
                err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
                raise typer.Exit(2) from None
        else:
            path = data_dir / HANDBOOK_FILE
            if not path.exists():
                console.print(f"[red]no data at {path}[/]")
                raise typer.Exit(2)
            with console.status(
                "point-in-time features, then training (train 7 d, delay 7 d, test 7 d)..."
            ):
                model, metrics = train_handbook_model(path, rounds=rounds)
        table = Table("model", "AUC", "AP", "CP@100", "train rows", "test rows")
        for m in metrics:
            table.add_row(
                m.model, f"{m.auc:.4f}", f"{m.average_precision:.4f}",
                f"{m.card_precision_100:.4f}", str(m.train_rows), str(m.test_rows),
            )  # fmt: skip
        if facts is None:
            table.add_row("handbook Ch.3 best", "0.871 (LR)", "0.658 (RF)", "0.291 (LR)", "", "")
        console.print(table)
        if facts is not None:
            console.print(
                f"{facts['transactions']:,} transactions, {facts['frauds']:,} frauds, "
                f"{facts['customers']:,} cards, {facts['terminals']:,} terminals, "
                f"{facts['first']} to {facts['last']}"
            )
            if facts["no_customer_column"]:
                err_console.print(
                    "[yellow]no card column: every transaction is its own card, so per-card "
                    "velocity features are empty and CP@100 is the precision of the 100 "
                    "riskiest transactions per day[/]"
                )
        if register:
            try:
                target = register_model(platform_data, model, version)
            except FinbridgeError as exc:
                err_console.print(f"[bold red]error[/]: {exc}")
                raise typer.Exit(2) from None
            console.print(f"[green]registered[/] {model.version} at {target}")
            return
        target = out or SHIPPED_MODEL
        model.save(target)
        console.print(f"[green]saved[/] {model.version} to {target}")

    @risk.command("replay")
    def replay_cmd(
        file: Path = typer.Argument(..., help="Transactions: CSV or Parquet (`risk schema`)."),
        rules: Path | None = typer.Option(None, help="Rule set JSON (default: built-in)."),
        mapping: Path | None = typer.Option(None, help="YAML column mapping (schema keys)."),
        time: str | None = typer.Option(None, "--time", help="Time column."),
        amount: str | None = typer.Option(None, help="Amount column."),
        customer: str | None = typer.Option(None, help="Card/customer column (or 'none')."),
        terminal: str | None = typer.Option(None, help="Merchant/terminal column."),
        label: str | None = typer.Option(None, help="Fraud label column, if the file has one."),
        time_unit: str | None = typer.Option(None, help="auto | datetime | seconds | ms."),
    ) -> None:
        """Replay every transaction through features, the model and the rules (batch).

        The file's columns are mapped onto the transaction schema (`finbridge risk schema`)
        by --mapping and the flags; the defaults are the fraud handbook's column names."""
        from finbridge.risk import replay_mapped, replay_transactions

        if not file.exists():
            console.print(f"[red]no such file {file}[/]")
            raise typer.Exit(2)
        rs = _load_rules(rules)
        flags = {"time": time, "amount": amount, "customer": customer, "terminal": terminal,
                 "label": label, "time_unit": time_unit}  # fmt: skip
        # A handbook Parquet file with no mapping keeps the handbook's own clock (the shipped
        # model was trained on it); anything else goes through the mapping.
        handbook = mapping is None and not any(flags.values()) and file.suffix == ".parquet"
        m = None if handbook else _mapping(mapping, **flags)
        try:
            result = replay_transactions(file, rs) if m is None else replay_mapped(file, m, rs)
        except FinbridgeError as exc:
            err_console.print(f"[bold red]error[/]: {exc}")
            raise typer.Exit(2) from None
        console.print(_report_table(result.report.to_json()))
        console.print(
            f"{result.events:,} events in {result.seconds:.2f}s = "
            f"{result.events_per_second:,.0f} events/s (features {result.seconds_features:.2f}s, "
            f"score {result.seconds_score:.2f}s, rules {result.seconds_rules:.2f}s)"
        )

    @risk.command("ingest")
    def ingest_cmd(
        file: Path = typer.Argument(..., help="Card payments: CSV or Parquet (`risk schema`)."),
        currency: str = typer.Option(..., help="The currency of the file's amounts (ISO 4217)."),
        source: str = typer.Option("partner", "--source", "-s", help="Who sent the file."),
        mapping: Path | None = typer.Option(None, help="YAML column mapping (schema keys)."),
        time: str | None = typer.Option(None, "--time", help="Time column (UTC if no zone)."),
        amount: str | None = typer.Option(None, help="Amount column."),
        customer: str | None = typer.Option(None, help="Card/customer column (or 'none')."),
        terminal: str | None = typer.Option(None, help="Merchant/terminal column."),
        label: str | None = typer.Option(None, help="Fraud label column, if the file has one."),
        time_unit: str | None = typer.Option(None, help="auto | datetime | seconds | ms."),
        transaction_id: str | None = typer.Option(None, help="Transaction id column."),
    ) -> None:
        """Store a bank's own card-payment file in the event lake as `card.transaction` events
        (mapped onto the transaction schema, then validated by the lake's ingestion), ready
        for `risk replay-lake` and the live engine's velocity consumer."""
        from finbridge.risk import card_events_from_file

        flags = {"time": time, "amount": amount, "customer": customer, "terminal": terminal,
                 "label": label, "time_unit": time_unit,
                 "transaction_id": transaction_id}  # fmt: skip
        events = card_events_from_file(file, _mapping(mapping, **flags), currency=currency)
        accepted = rejected = 0
        with platform_context() as platform:
            # Chunks keep each upload under the ingestion's size cap; each chunk is its own
            # idempotent ingestion, so a rerun after a failure stores nothing twice.
            for start in range(0, len(events), INGEST_CHUNK):
                chunk = events[start : start + INGEST_CHUNK]
                data = "".join(json.dumps(e) + "\n" for e in chunk).encode()
                report = platform.events.ingest(CLI_ACTOR, data, fmt="jsonl", source=source)
                accepted += report.accepted
                rejected += report.rejected
                for r in report.rejections[:5]:
                    err_console.print(f"[yellow]row {start + r.row}[/]: {escape(r.reason)}")
                for reason in report.quarantined:
                    err_console.print(f"[yellow]quarantined[/]: {escape(reason)}")
        console.print(f"{len(events):,} rows: {accepted:,} stored, {rejected:,} rejected")
        if rejected:
            raise typer.Exit(1)

    @risk.command("replay-lake")
    def replay_lake_cmd(
        since: str | None = typer.Option(None, help="From this ISO date/time (UTC if naive)."),
        until: str | None = typer.Option(None, help="Before this ISO date/time."),
        rules: Path | None = typer.Option(None, help="Rule set JSON (default: built-in)."),
        currency: str | None = typer.Option(
            None, help="Convert every payment into this currency (ECB reference rates)."
        ),
    ) -> None:
        """Replay every card payment ingested into the event lake (`risk ingest`, `events
        ingest`) through features, the model and the rules, as if decided live."""
        from datetime import UTC, datetime

        from finbridge.payments import ReferenceRates
        from finbridge.risk import CARD_FIELDS, replay_card_table

        def when(value: str | None, field: str) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError(f"not an ISO date/time: {value!r}", field=field) from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

        rs = _load_rules(rules)
        rates = ReferenceRates()
        with platform_context() as platform:
            table = platform.events.payload_table(
                CLI_ACTOR, "card.transaction", CARD_FIELDS,
                since=when(since, "since"), until=when(until, "until"),
            )  # fmt: skip
            replay = replay_card_table(
                table, rs, currency=currency, rate=lambda b, q, d: rates.rate(b, q, d).rate
            )
        console.print(_report_table(replay.result.report.to_json()))
        note = f"; {replay.refunds:,} refunds left out" if replay.refunds else ""
        console.print(
            f"{replay.result.events:,} ingested card payments replayed in {replay.currency}{note}"
        )
        for code, n in sorted(replay.converted.items()):
            console.print(f"{n:,} payments converted from {code} at the ECB reference rate")

    @risk.command("backtest")
    def backtest_cmd(
        rules: Path = typer.Argument(..., help="Draft rule set JSON to test."),
        file: Path | None = typer.Option(
            None,
            help="Your labelled transactions (CSV/Parquet, `risk schema`); default: "
            "this platform's decision history.",
        ),
        mapping: Path | None = typer.Option(None, help="YAML column mapping for --file."),
        time: str | None = typer.Option(None, "--time", help="Time column of --file."),
        amount: str | None = typer.Option(None, help="Amount column of --file."),
        customer: str | None = typer.Option(None, help="Card/customer column (or 'none')."),
        terminal: str | None = typer.Option(None, help="Merchant/terminal column."),
        label: str | None = typer.Option(None, help="Fraud label column."),
    ) -> None:
        """Backtest a draft rule set point in time on history; compare with the live one."""
        from finbridge.core.principal import Principal
        from finbridge.risk import replay_mapped, replay_transactions

        if file is not None:
            draft = _load_rules(rules)
            flags = {"time": time, "amount": amount, "customer": customer,
                     "terminal": terminal, "label": label}  # fmt: skip
            handbook = mapping is None and not any(flags.values()) and file.suffix == ".parquet"
            try:
                result = (
                    replay_transactions(file, draft)
                    if handbook
                    else replay_mapped(file, _mapping(mapping, **flags), draft)
                )
            except FinbridgeError as exc:
                err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
                raise typer.Exit(2) from None
            console.print(_report_table(result.report.to_json()))
            return
        try:
            spec = _spec(rules)
        except FinbridgeError as exc:
            err_console.print(f"[bold red]error[/]: {exc}")
            raise typer.Exit(2) from None
        with platform_context() as platform:
            try:
                reports = platform.risk.backtest_spec(Principal.system("risk-cli"), spec)
            except ValidationError as exc:
                if exc.field != "since":
                    raise
                console.print("no stored decisions to replay yet")
                return
            for report in (reports["live"], reports["draft"]):
                console.print(_report_table(report))

    app.add_typer(risk, name="risk")
