"""``finbridge identity`` (face evaluation, key rotation) and ``finbridge audit verify``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from finbridge.cli.context import cli_settings, console, err_console, platform_context

DEFAULT_DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "datasets"


def register(app: typer.Typer) -> None:
    identity = typer.Typer(
        help="Identity: face evaluation, PII key rotation.", no_args_is_help=True
    )
    audit = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

    @identity.command("eval-face")
    def eval_face(
        data_dir: Path = typer.Option(DEFAULT_DATA, help="Folder holding faces/ (read-only)."),
        threshold: float | None = typer.Option(
            None, help="Distance threshold; default is the configured one."
        ),
        sweep: bool = typer.Option(False, help="Also print FAR/FRR for thresholds 0.30-0.70."),
    ) -> None:
        """False accept / false reject rates and time per image on the labelled face pairs."""
        from finbridge.identity import (
            IdentityConfig,
            evaluate_faces,
            face_eval_sets,
            format_face_report,
        )

        thr = (
            threshold
            if threshold is not None
            else IdentityConfig.from_settings(cli_settings()).face_threshold
        )
        sets = face_eval_sets(data_dir.resolve())
        table = Table("set", "pairs", "same", "FAR", "FRR", "ms/image", "p95 ms")
        for name, pairs in sets.items():
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task(f"embedding {name}", total=1)

                def advance(
                    done: int, total: int, task: TaskID = task, bar: Progress = bar
                ) -> None:
                    bar.update(task, completed=done, total=total)

                report = evaluate_faces(pairs, threshold=thr, progress=advance)
            for line in format_face_report(name, report):
                console.print(line, highlight=False, soft_wrap=True)
            table.add_row(
                name, str(report.pairs), str(report.genuine), f"{report.far:.2%}",
                f"{report.frr:.2%}", f"{report.ms_per_image:.0f}", f"{report.ms_per_image_p95:.0f}",
            )  # fmt: skip
            if sweep:
                for t, far, frr in report.sweep:
                    console.print(f"  threshold {t:.2f}: FAR {far:.2%} FRR {frr:.2%}")
        console.print(table)

    @identity.command("rotate-keys")
    def rotate_keys(
        signing_key: bool = typer.Option(True, help="Also start a new token-signing key."),
    ) -> None:
        """Re-encrypt all PII under the newest FINBRIDGE_PII_KEYS key (list it first)."""
        with platform_context() as platform:
            ids = platform.identity
            changed = ids.persons.reencrypt_all()
            console.print(
                f"[green]re-encrypted[/] {changed} value(s) under key {ids.vault.current_key_id!r}"
            )
            if signing_key:
                kid = ids.signer.rotate()
                console.print(
                    f"[green]new token-signing key[/] {kid}; old keys verify until expiry"
                )

    @identity.command("register")
    def register_cmd(
        name: str = typer.Option(..., help="Full name (Chinese or Latin)."),
        id_number: str = typer.Option(..., help="18-digit resident ID (15-digit accepted)."),
        phone: str = typer.Option(..., help="Mainland mobile number, used to log in."),
        password: str = typer.Option(
            ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Login password."
        ),
    ) -> None:
        """Register a personal customer (resident ID) with a password; prints the masked record."""
        from finbridge.core.principal import Principal
        from finbridge.identity import RegistrationRequest

        with platform_context() as platform:
            # One atomic call: the banking customer, the person and the password, or nothing.
            view = platform.identity.persons.register(
                RegistrationRequest(name, "prc_resident_id", id_number, phone),
                Principal.system("cli"),
                password=password,
            )
        console.print(
            f"[green]registered[/] {view.customer_id}: {view.name} {view.id_number} {view.phone};"
            " log in at /console/identity/login",
            highlight=False,
        )

    @identity.command("new-pii-key")
    def new_pii_key(key_id: str = typer.Argument(..., help="Short id for the new key.")) -> None:
        """Print a fresh AES-256 key entry to put first in FINBRIDGE_PII_KEYS."""
        from finbridge.identity import generate_key_spec

        console.print(generate_key_spec(key_id), soft_wrap=True, highlight=False)

    @audit.command("head")
    def audit_head() -> None:
        """Print the newest record as seq:hash, to keep outside the database."""
        with platform_context() as platform:
            seq, digest = platform.identity.audit.head()
        console.print(f"{seq}:{digest}", highlight=False)

    @audit.command("verify")
    def audit_verify(
        anchor: str | None = typer.Option(
            None, help="seq:hash printed earlier by `finbridge audit head` (detects truncation)."
        ),
    ) -> None:
        """Walk the audit chain; exit code 1 if any record was modified, deleted or reordered."""
        parsed: tuple[int, str] | None = None
        if anchor:
            seq_text, _, digest = anchor.partition(":")
            if not seq_text.isdigit() or len(digest) != 64:
                raise typer.BadParameter("expected seq:hash", param_hint="--anchor")
            parsed = (int(seq_text), digest)
        with platform_context() as platform:
            report = platform.identity.audit.verify(parsed)
        if report.ok:
            console.print(
                f"[green]audit log intact[/]: {report.checked} records, head {report.head_hash}"
            )
            return
        err_console.print(f"[bold red]audit log tampered[/]: {len(report.problems)} problem(s)")
        for problem in report.problems[:50]:
            err_console.print(f"  {problem}")
        raise typer.Exit(1)

    app.add_typer(identity, name="identity")
    app.add_typer(audit, name="audit")
