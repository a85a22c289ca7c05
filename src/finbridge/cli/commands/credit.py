"""``finbridge credit`` (scorecards, registry, reports, joint jobs) and ``finbridge party``."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from finbridge.cli.context import console, err_console, platform_context
from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal
from finbridge.core.settings import Settings

CLI_ACTOR = Principal.system("cli")


def _read_table(path: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    if not path.exists():
        err_console.print(f"[red]no file at {path}[/]")
        raise typer.Exit(2)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _registry(platform):  # type: ignore[no-untyped-def]
    from finbridge.credit.registry import ModelRegistry

    return ModelRegistry(platform.engine, platform.clock)


def register(app: typer.Typer) -> None:
    credit = typer.Typer(
        help="Credit: scorecards, models, reports, joint jobs.", no_args_is_help=True
    )
    joint = typer.Typer(help="Joint bank-partner jobs (PSI + federated training).",
                        no_args_is_help=True)  # fmt: skip
    party = typer.Typer(help="Run one party of a joint credit partnership.", no_args_is_help=True)

    @credit.command("train")
    def train_cmd(
        data: Path = typer.Option(..., help="CSV or Parquet table with a binary target."),
        target: str = typer.Option(..., help="Target column (1/True/'bad' = bad)."),
        name: str = typer.Option(..., help="Model name in the registry."),
        kind: str = typer.Option("scorecard", help="scorecard | lightgbm"),
        drop: str = typer.Option("", help="Comma-separated columns to ignore (e.g. ids)."),
        holdout: float = typer.Option(0.25, help="Held-out share for the evaluation."),
        promote: bool = typer.Option(False, help="Make the new version live."),
    ) -> None:
        """Train on any table, evaluate on a held-out split, register a new version."""
        from finbridge.credit.training import train_and_register

        frame = _read_table(data)
        with platform_context() as platform:
            registry = _registry(platform)
            drop_cols = tuple(c for c in drop.split(",") if c)
            v = train_and_register(
                registry, CLI_ACTOR, frame, target=target, name=name, kind=kind,
                drop_columns=drop_cols, holdout=holdout,
            )  # fmt: skip
            if promote:
                v = registry.promote(CLI_ACTOR, name, v.version)
            console.print(
                f"[green]{name} v{v.version}[/] ({v.kind}, {v.status}): held-out AUC "
                f"{v.metrics['auc']:.4f}  KS {v.metrics['ks']:.4f}  Gini {v.metrics['gini']:.4f}"
                f"  on {v.metrics['n_holdout']} rows; features: {', '.join(v.features)}"
            )

    @credit.command("models")
    def models_cmd() -> None:
        """Every registered version with its held-out metrics."""
        with platform_context() as platform:
            table = Table("model", "version", "kind", "status", "AUC", "KS", "trained by", "at")
            for v in _registry(platform).list_versions(CLI_ACTOR):
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
            v = _registry(platform).promote(CLI_ACTOR, name, version)
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
            html = _registry(platform).report_html(CLI_ACTOR, name, version, frame)
        out.write_text(html, encoding="utf-8")
        console.print(f"[green]report written[/] to {out}")

    @credit.command("score")
    def score_cmd(
        name: str, applicant: str = typer.Argument(..., help="Applicant as JSON.")
    ) -> None:
        """Score one applicant with the live version: score, band, reasons, version."""
        with platform_context() as platform:
            try:
                row = json.loads(applicant)
            except json.JSONDecodeError as exc:
                err_console.print(f"[red]applicant is not JSON: {exc}[/]")
                raise typer.Exit(2) from None
            d = _registry(platform).score(CLI_ACTOR, name, row)
            console.print_json(json.dumps(asdict(d)))

    @joint.command("certs")
    def certs_cmd(out: Path = typer.Option(..., help="Folder for the CA and both certificates.")
                  ) -> None:  # fmt: skip
        """Create the partnership CA and the bank/partner certificates (mutual TLS)."""
        from finbridge.credit.pki import make_certificates

        paths = make_certificates(out)
        console.print(
            f"[green]certificates written[/]: {', '.join(str(p) for p in paths.values())}"
        )

    def _link(via: str, certs: Path, role: str):  # type: ignore[no-untyped-def]
        from finbridge.credit.party import PeerLink

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
        customer_key: str = typer.Option(..., help="Join key (phone or ID number)."),
        subject_id: str = typer.Option(..., help="Customer id (its consent is checked)."),
        applicant: str = typer.Option(..., help="The bank's features as JSON."),
        name: str = typer.Option("joint", help="Registered joint model."),
        version: int | None = typer.Option(None, help="Version (default: live)."),
        partner: str | None = typer.Option(None, help="The partner's party URL."),
        certs: Path | None = typer.Option(None, help="Certificate folder (bank's cert)."),
    ) -> None:
        """Joint score of one applicant; says when the bank-only model answered and why."""
        from finbridge.credit.vfl.online import https_partner, score_joint_online

        try:
            row = json.loads(applicant)
        except json.JSONDecodeError as exc:
            err_console.print(f"[red]applicant is not JSON: {exc}[/]")
            raise typer.Exit(2) from None
        with platform_context() as platform:
            d = score_joint_online(
                _registry(platform), CLI_ACTOR, name, customer_key, row,
                partner=https_partner(partner, certs), subject_id=subject_id, version=version,
                consent=platform.identity.consents.require_consent,
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
        database); the partner keeps its half under FINBRIDGE_DATA_DIR/credit-joint/.
        """
        from finbridge.credit.vfl.data import PartyData
        from finbridge.credit.vfl.service import PartyService

        frame = _read_table(data)
        keep = [c for c in columns.split(",") if c]
        if keep:
            frame = frame[[id_column, *keep, *([target] if target else [])]]
        with contextlib.ExitStack() as stack:
            registry = None
            if role == "bank" and register:
                registry = _registry(stack.enter_context(platform_context()))
            settings_dir = Settings().data_dir
            try:
                party_data = PartyData.from_frame(
                    frame, id_column, target if role == "bank" else None
                )
                service = PartyService(
                    role, party_data, certs, peer, host=host, port=port, registry=registry,
                    actor=CLI_ACTOR, model_name=model_name, data_dir=settings_dir,
                )  # fmt: skip
            except FinbridgeError as exc:
                err_console.print(f"[red]error[/]: {exc}")
                raise typer.Exit(2) from None
            _serve(service, role, party_data, peer)

    def _serve(service, role: str, party_data, peer: str) -> None:  # type: ignore[no-untyped-def]
        from finbridge.core.clock import SystemClock

        console.print(
            f"[green]{role}[/] serving {len(party_data.ids):,} customers at "
            f"{service.url} (mutual TLS), peer {peer}; started {SystemClock().now():%H:%M:%S} UTC"
        )
        try:
            service.serve_forever()
        except KeyboardInterrupt:
            service.close()

    credit.add_typer(joint, name="joint")
    app.add_typer(credit, name="credit")
    app.add_typer(party, name="party")
