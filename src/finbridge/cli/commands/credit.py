"""``finbridge credit`` (scorecards, registry, reports, joint jobs) and ``finbridge party``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape as _escape
from rich.table import Table

from finbridge.cli.context import cli_settings, console, err_console, platform_context
from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")


def _fail(exc: FinbridgeError) -> typer.Exit:
    err_console.print(f"[bold red]error[/]: {_escape(str(exc))}")
    return typer.Exit(2)


def _read_table(path: Path, encoding: str | None = None):  # type: ignore[no-untyped-def]
    """The file as a frame, or one clear message and exit code 2."""
    from finbridge.credit import read_table

    try:
        return read_table(path, encoding=encoding).frame
    except FinbridgeError as exc:
        raise _fail(exc) from None


def _policy(config: Path | None, **flags: object):  # type: ignore[no-untyped-def]
    """The training policy: the config file's (or the defaults), then the flags given."""
    from finbridge.credit import TrainingPolicy, load_policy

    try:
        base = load_policy(config) if config else TrainingPolicy()
        return base.merged(**flags)
    except FinbridgeError as exc:
        raise _fail(exc) from None


def _split(text: str) -> tuple[str, ...] | None:
    names = tuple(c.strip() for c in text.split(",") if c.strip())
    return names or None


def register(app: typer.Typer) -> None:
    credit = typer.Typer(
        help="Credit: scorecards, models, reports, joint jobs.", no_args_is_help=True
    )
    joint = typer.Typer(help="Joint bank-partner jobs (PSI + federated training).",
                        no_args_is_help=True)  # fmt: skip
    party = typer.Typer(help="Run one party of a joint credit partnership.", no_args_is_help=True)

    @credit.command("train")
    def train_cmd(
        data: Path = typer.Option(..., help="Parquet, CSV or JSON Lines table with a target."),
        target: str | None = typer.Option(None, help="Target column (or target: in --config)."),
        name: str | None = typer.Option(None, help="Model name in the registry."),
        kind: str | None = typer.Option(None, help="scorecard | lightgbm"),
        drop: str = typer.Option("", help="Comma-separated columns to ignore."),
        id_column: str = typer.Option("", help="Comma-separated id columns (never features)."),
        holdout: float | None = typer.Option(None, help="Held-out share (default 0.25)."),
        seed: int | None = typer.Option(None, help="Seed of the split and the model (default 0)."),
        bad_label: str | None = typer.Option(None, help="The target value meaning 'bad'."),
        unseen: str | None = typer.Option(
            None, help="Held-out categories the training part lacks: missing | error."
        ),
        unseen_scoring: str | None = typer.Option(
            None, help="An applicant's category the model never saw: error | missing."
        ),
        allow_small: bool = typer.Option(
            False, help="Train below the rows-per-class minimums, with a stored warning."
        ),
        encoding: str | None = typer.Option(None, help="Text encoding (default: detected)."),
        config: Path | None = typer.Option(None, help="YAML training config (policy keys)."),
        promote: bool = typer.Option(False, help="Make the new version live."),
        from_features: bool = typer.Option(
            False,
            "--from-features",
            help="Train through the feature store: attributes recorded at --recorded-at, "
            "labels joined point in time at --scored-at (needs --id-column).",
        ),
        recorded_at: str = typer.Option(
            "recorded_at", help="With --from-features: a column or one ISO instant."
        ),
        scored_at: str = typer.Option(
            "scored_at", help="With --from-features: a column or one ISO instant."
        ),
    ) -> None:
        """Profile any table, apply the policy, evaluate on a held-out split, register.

        With --from-features the table goes through the feature store first: its attributes
        are materialised as recorded at --recorded-at into the model's own profile view, and
        each label is joined with the attributes recorded strictly before its --scored-at.

        Every column problem is reported at once with the decision taken (defaults: drop
        constant, all-null, id-like and leakage-suspect columns, coerce numbers stored as text,
        score held-out categories the training part lacks as missing, refuse too few rows per
        class; scoring refuses an applicant's unseen category unless --unseen-scoring missing).
        """
        policy = _policy(
            config, target=target, name=name, kind=kind, holdout=holdout, seed=seed,
            bad_label=bad_label, unseen=unseen, unseen_scoring=unseen_scoring,
            drop=_split(drop), id_columns=_split(id_column),
            small_data="warn" if allow_small else None,
        )  # fmt: skip
        if not policy.target or not policy.name:
            missing = "--target" if not policy.target else "--name"
            raise _fail(FinbridgeError(f"{missing} is required (or set it in --config)"))
        if from_features and not policy.id_columns:
            raise _fail(FinbridgeError("--from-features needs --id-column (the customer id)"))
        frame = _read_table(data, encoding)
        with platform_context() as platform:
            if from_features:
                v = platform.credit.train_recorded(
                    CLI_ACTOR, platform.features.store, frame, name=policy.name,
                    target=policy.target, id_column=policy.id_columns[0],
                    recorded_at=recorded_at, scored_at=scored_at, policy=policy,
                    drop_columns=tuple(policy.drop), promote=promote,
                )  # fmt: skip
            else:
                v = platform.credit.train(
                    CLI_ACTOR, frame, name=policy.name, policy=policy, promote=promote,
                    source=data.name,
                )  # fmt: skip
            _print_lines(v.metrics.get("decisions", []))
            console.print(
                f"[green]{policy.name} v{v.version}[/] ({v.kind}, {v.status}, seed "
                f"{policy.seed}): held-out AUC {v.metrics['auc']:.4f}  KS {v.metrics['ks']:.4f}"
                f"  Gini {v.metrics['gini']:.4f} on {int(v.metrics['n_holdout']):,} rows; "
                f"features: {', '.join(v.features)}"
            )
            for w in v.metrics.get("warnings", []):
                err_console.print(f"[bold yellow]warning[/]: {_escape(w)}")

    @credit.command("profile")
    def profile_cmd(
        data: Path = typer.Argument(..., help="Parquet, CSV or JSON Lines table."),
        target: str | None = typer.Option(None, help="Target column."),
        drop: str = typer.Option("", help="Comma-separated columns to ignore."),
        id_column: str = typer.Option("", help="Comma-separated id columns."),
        bad_label: str | None = typer.Option(None, help="The target value meaning 'bad'."),
        encoding: str | None = typer.Option(None, help="Text encoding (default: detected)."),
        config: Path | None = typer.Option(None, help="YAML training config (policy keys)."),
    ) -> None:
        """Report every problem of a training table and the decisions training would take."""
        policy = _policy(
            config, target=target, bad_label=bad_label, drop=_split(drop),
            id_columns=_split(id_column), small_data="warn",
        )  # fmt: skip
        frame = _read_table(data, encoding)
        with platform_context() as platform:
            _print_lines(platform.credit.profile(CLI_ACTOR, frame, policy).lines())

    @credit.command("models")
    def models_cmd() -> None:
        """Every registered version with its held-out metrics."""
        with platform_context() as platform:
            table = Table("model", "version", "kind", "status", "AUC", "KS", "trained by", "at")
            for v in platform.credit.list_versions(CLI_ACTOR):
                table.add_row(
                    v.model_name, str(v.version), v.kind, v.status,
                    f"{v.metrics.get('auc', 0):.4f}", f"{v.metrics.get('ks', 0):.4f}",
                    v.trained_by, v.created_at.isoformat(timespec="seconds"),
                )  # fmt: skip
            console.print(table)

    @credit.command("promote")
    def promote_cmd(name: str, version: int) -> None:
        """Make VERSION of NAME the live model (the previous live one is retired)."""
        with platform_context() as platform:
            v = platform.credit.promote(CLI_ACTOR, name, version)
            console.print(f"[green]{name} v{v.version} is live[/]")

    @credit.command("report")
    def report_cmd(
        name: str,
        out: Path = typer.Option(..., help="HTML file to write."),
        version: int | None = typer.Option(None, help="Version (default: live)."),
        current: Path | None = typer.Option(None, help="Current applicants for PSI monitoring."),
    ) -> None:
        """Write the model's self-contained HTML report (ROC, KS, distributions, bins, PSI)."""
        frame = _read_table(current) if current else None
        with platform_context() as platform:
            html = platform.credit.report_html(CLI_ACTOR, name, version, frame)
        out.write_text(html, encoding="utf-8")
        console.print(f"[green]report written[/] to {out}")

    @credit.command("score")
    def score_cmd(
        name: str,
        applicant: str = typer.Argument(..., help="Applicant as JSON."),
        customer_id: str = typer.Option(..., help="The customer scored (consent is checked)."),
    ) -> None:
        """Score one customer with the live version: score, band, reasons, version."""
        with platform_context() as platform:
            try:
                row = json.loads(applicant)
            except json.JSONDecodeError as exc:
                err_console.print(f"[red]applicant is not JSON: {exc}[/]")
                raise typer.Exit(2) from None
            d = platform.credit.score(CLI_ACTOR, name, row, customer_id=customer_id)
            console.print_json(json.dumps(asdict(d)))

    @joint.command("certs")
    def certs_cmd(
        out: Path | None = typer.Option(None, help="Folder for a new CA and both certificates."),
        renew: Path | None = typer.Option(
            None, help="Re-issue the certificates in this folder under its CA (no downtime)."
        ),
        days: int | None = typer.Option(
            None, min=1, help="Validity in days (default: settings.credit.cert_validity_days)."
        ),
        role: str | None = typer.Option(None, help="Renew only this role (bank | partner)."),
    ) -> None:
        """Issue the partnership CA and certificates, or renew the certificates under the same CA.

        A running party server serves renewed files on new connections without a restart, and
        the other party keeps trusting them (same CA).
        """
        from finbridge.credit import make_certificates, renew_certificates

        if (out is None) == (renew is None):
            err_console.print("[red]give exactly one of --out (new partnership) or --renew DIR[/]")
            raise typer.Exit(2)
        validity = days or cli_settings().credit.cert_validity_days
        try:
            if out is not None:
                paths = make_certificates(out, days=validity)
            else:
                assert renew is not None
                paths = renew_certificates(renew, days=validity, roles=(role,) if role else None)
        except FinbridgeError as exc:
            err_console.print(f"[red]error[/]: {exc}")
            raise typer.Exit(2) from None
        verb = "written" if out is not None else "renewed"
        console.print(
            f"[green]certificates {verb}[/] (valid {validity} days): "
            f"{', '.join(str(p) for p in paths.values())}"
        )

    def _link(via: str, certs: Path, role: str):  # type: ignore[no-untyped-def]
        from finbridge.credit import PeerLink

        return PeerLink(via, certs, role)

    @joint.command("start")
    def start_cmd(
        via: str = typer.Option(..., help="Your own party's URL, e.g. https://127.0.0.1:8443"),
        role: str = typer.Option(..., help="Your role: bank | partner"),
        certs: Path = typer.Option(..., help="Certificate folder (your role's cert is used)."),
        models: str = typer.Option("secureboost", help="secureboost,lr"),
        trees: int = typer.Option(15),
        key_bits: int = typer.Option(2048),
        wait: bool = typer.Option(True, help="Follow progress until the job ends."),
    ) -> None:
        """Start a joint job from either side; progress shows on both parties."""
        link = _link(via, certs, role)
        spec = {"models": models.split(","), "key_bits": key_bits,
                "boost": {"n_trees": trees, "subsample": 0.5}, "workers": 2}  # fmt: skip
        try:
            job_id = link.post("/jobs", json.dumps(spec).encode())["job_id"]
        except FinbridgeError as exc:
            err_console.print(f"[red]cannot start the job[/]: {exc}")
            raise typer.Exit(2) from None
        console.print(f"job [bold]{job_id}[/] started")
        if wait:
            _follow(link, job_id)

    def _follow(link, job_id: str) -> None:  # type: ignore[no-untyped-def]
        from rich.progress import Progress

        with Progress(console=console) as progress:
            task = progress.add_task("starting", total=1.0)
            while True:
                s = link.get(f"/jobs/{job_id}")
                peer = s.get("peer") or {}
                progress.update(
                    task, completed=float(s.get("progress") or 0),
                    description=f"{s.get('stage')} | peer: {peer.get('stage', '-')}",
                )  # fmt: skip
                if s.get("state") in ("succeeded", "failed"):
                    break
                time.sleep(0.5)
        if s["state"] == "failed":
            err_console.print(f"[red]job failed[/]: {s.get('error')}")
            raise typer.Exit(1)
        console.print_json(
            json.dumps(
                {k: s.get(k) for k in ("metrics", "timings", "shared", "summary") if s.get(k)}
            )
        )

    @joint.command("status")
    def status_cmd(
        job_id: str,
        via: str = typer.Option(...),
        role: str = typer.Option(...),
        certs: Path = typer.Option(...),
    ) -> None:
        """Show a job's state on your side (and the other party's progress)."""
        console.print_json(json.dumps(_link(via, certs, role).get(f"/jobs/{job_id}")))

    @joint.command("score")
    def joint_score_cmd(
        join_key: str = typer.Option(..., help="Join key (phone or ID number)."),
        customer_id: str = typer.Option(..., help="The customer scored (consent is checked)."),
        applicant: str = typer.Option(..., help="The bank's features as JSON."),
        name: str = typer.Option("joint", help="Registered joint model."),
        version: int | None = typer.Option(None, help="Version (default: live)."),
    ) -> None:
        """Joint score of one customer; says when the bank-only model answered and why.

        The partner link comes from settings (FINBRIDGE_CREDIT__PARTNER_URL, _CERTS).
        """
        try:
            row = json.loads(applicant)
        except json.JSONDecodeError as exc:
            err_console.print(f"[red]applicant is not JSON: {exc}[/]")
            raise typer.Exit(2) from None
        with platform_context() as platform:
            d = platform.credit.score_joint(
                CLI_ACTOR, name, customer_id=customer_id, join_key=join_key,
                applicant=row, version=version,
            )  # fmt: skip
            out = {**asdict(d.decision), "job_id": d.job_id, "note": d.note,
                   "partner_reachable": d.partner_reachable,
                   "bank_only_fallback": d.bank_only_fallback}  # fmt: skip
            console.print_json(json.dumps(out, default=str))

    @party.command("serve")
    def serve_cmd(
        role: str = typer.Option(..., help="bank | partner"),
        data: Path = typer.Option(..., help="This party's own table (CSV/Parquet)."),
        id_column: str = typer.Option(..., help="Join key column (phone or ID number)."),
        certs: Path = typer.Option(..., help="Certificate folder from `credit joint certs`."),
        peer: str = typer.Option(..., help="The other party's URL."),
        port: int = typer.Option(8443),
        host: str = typer.Option("127.0.0.1"),
        target: str | None = typer.Option(None, help="Label column (the bank only)."),
        columns: str = typer.Option("", help="Comma-separated feature columns (default: all)."),
        model_name: str = typer.Option("joint", help="Registry name of the bank's half."),
        register: bool = typer.Option(
            True, help="Bank: register each finished job's half in the platform's registry."
        ),
    ) -> None:
        """Serve this party's endpoint (HTTPS, mutual TLS) and run joint jobs.

        The bank registers its half of each finished job in the model registry (platform
        database); the partner keeps its half under FINBRIDGE_DATA_DIR/credit-joint/. The
        server warns when its certificate nears expiry and serves renewed certificates
        (`credit joint certs --renew`) without a restart.
        """
        from finbridge.credit import PartyData
        from finbridge.party import PartyServer

        frame = _read_table(data)
        keep = [c for c in columns.split(",") if c]
        if keep:
            frame = frame[[id_column, *keep, *([target] if target else [])]]
        settings = cli_settings()
        with platform_context(settings) as platform:
            party_data = PartyData.from_frame(frame, id_column, target if role == "bank" else None)
            service = platform.credit.party(
                role, party_data, certs, peer, actor=CLI_ACTOR, register=register,
                model_name=model_name,
            )  # fmt: skip
            server = PartyServer(
                service.endpoint, certs, host=host, port=port,
                warn_days=settings.credit.cert_warn_days,
            )  # fmt: skip
            console.print(
                f"[green]{role}[/] serving {len(party_data.ids):,} customers at {server.url} "
                f"(mutual TLS), peer {peer}"
            )
            try:
                server.serve_forever()
            finally:
                server.close()

    def _print_lines(lines: list[str]) -> None:
        for line in lines:
            style = "yellow" if line.startswith("WARNING") else "cyan"
            console.print(f"[{style}]profile[/] {_escape(line)}")

    credit.add_typer(joint, name="joint")
    app.add_typer(credit, name="credit")
    app.add_typer(party, name="party")
