"""``finbridge acquisition``: model figures, profiles, campaigns, scheduling and delivery."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

acquisition_app = typer.Typer(
    help="Customer acquisition: models, profiles, campaigns, deliveries.", no_args_is_help=True
)


models_app = typer.Typer(
    help="The response and uplift models: train and store a version, list versions.",
    no_args_is_help=True,
)
acquisition_app.add_typer(models_app, name="models")


def _data_files(data_dir: Path | None) -> tuple[Path, Path]:
    """bank-full and Hillstrom: the full sets in ``data_dir``, else the shipped slices."""
    import finbridge

    if data_dir is not None:
        return data_dir / "uci_bank_full_45k.parquet", data_dir / "hillstrom_email_64k.parquet"
    shipped = Path(finbridge.__file__).parent / "datasets" / "marketing"
    return (
        shipped / "uci_bank_full_sample_6k.parquet",
        shipped / "hillstrom_email_sample_12k.parquet",
    )


@models_app.command("train")
def models_train(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with bank-full and Hillstrom (default: shipped slices)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the manifest as JSON here")] = None,
) -> None:
    """Fit the response model (beside its baselines) and the uplift learners (picked by
    validation Qini), store them as the next version (the live one), print held-out figures."""
    bank, hill = _data_files(data_dir)
    with platform_context() as platform:
        version = platform.acquisition.train_models(CLI_ACTOR, bank, hill)
    manifest = version.manifest
    response, uplift = manifest["response"], manifest["uplift"]
    table = Table(title=f"{version.version}: response model, {response['rows']:,} rows (test part)")
    for col in ("model", "AUC", "Brier"):
        table.add_column(col)
    for name, auc in response["auc"].items():
        table.add_row(name, f"{auc:.4f}", f"{response['brier'][name]:.5f}")
    console.print(table)
    table = Table(
        title=f"uplift on Hillstrom (visit), chosen by validation Qini: {uplift['chosen']}"
    )
    for col in ("learner", "val Qini", "test Qini", "test AUUC", "test uplift@30%"):
        table.add_column(col)
    for name, s in uplift["test"].items():
        v = uplift["validation"][name]
        table.add_row(
            name,
            f"{v['qini']:.5f}",
            f"{s['qini']:.5f}",
            f"{s['auuc']:.5f}",
            f"{s['uplift_at_30']:.4f}",
        )
    console.print(table)
    console.print(f"stored {version.version} (live)")
    if out is not None:
        out.write_text(json.dumps(manifest, indent=1))
        console.print(f"manifest written to {out}")


@models_app.command("list")
def models_list() -> None:
    """Stored versions, newest (live) first, with their held-out figures."""
    with platform_context() as platform:
        versions = platform.acquisition.model_versions(CLI_ACTOR)
    if not versions:
        console.print("no stored models (finbridge acquisition models train)")
        return
    table = Table()
    for col in ("version", "trained", "response AUC", "logistic AUC", "uplift", "test Qini"):
        table.add_column(col)
    for k, v in enumerate(versions):
        chosen = v.uplift_chosen
        table.add_row(
            v.version + (" (live)" if k == 0 else ""),
            v.trained_at.isoformat(timespec="seconds"),
            f"{v.response_auc['lightgbm_calibrated']:.4f}",
            f"{v.response_auc['logistic']:.4f}",
            chosen,
            f"{v.manifest['uplift']['test'][chosen]['qini']:.5f}",
        )
    console.print(table)


@acquisition_app.command("refresh")
def refresh(
    as_of: Annotated[str | None, typer.Option(help="ISO instant with zone (default now)")] = None,
) -> None:
    """Bring every consenting customer's profile up to date from the lake."""
    with platform_context() as platform:
        when = dt.datetime.fromisoformat(as_of) if as_of else None
        n = platform.acquisition.refresh_profiles(CLI_ACTOR, as_of=when)
        console.print(f"{n} profiles")


@acquisition_app.command("profile")
def profile(customer_id: str) -> None:
    """One customer's profile (needs their marketing consent)."""
    with platform_context() as platform:
        p = platform.acquisition.profile(CLI_ACTOR, customer_id)
        console.print_json(
            json.dumps({"as_of": p.as_of.isoformat(), "fields": p.fields, "topics": p.topics})
        )


@acquisition_app.command("campaigns")
def campaigns() -> None:
    """List campaigns."""
    with platform_context() as platform:
        table = Table()
        for col in ("id", "name", "audience", "schedule", "holdout"):
            table.add_column(col)
        for c in platform.acquisition.campaigns(CLI_ACTOR):
            table.add_row(
                c.id, c.name, c.audience, json.dumps(c.schedule), f"{c.holdout_share:.0%}"
            )
        console.print(table)


@acquisition_app.command("schedule")
def schedule(
    campaign_id: str,
    day: Annotated[str, typer.Option(help="The customers' local date, YYYY-MM-DD")],
) -> None:
    """Plan one day of a campaign."""
    with platform_context() as platform:
        r = platform.acquisition.schedule(CLI_ACTOR, campaign_id, dt.date.fromisoformat(day))
        console.print(f"scheduled {r.scheduled}, held out {r.holdout}, skipped {r.skipped}")


@acquisition_app.command("deliver")
def deliver() -> None:
    """Send every scheduled message that is due now."""
    with platform_context() as platform:
        r = platform.acquisition.deliver_due(CLI_ACTOR)
        console.print(f"delivered {r.delivered}, suppressed {r.suppressed}")


@acquisition_app.command("results")
def results(campaign_id: str) -> None:
    """Measured lift of a campaign against its holdout, with a 95 % interval."""
    with platform_context() as platform:
        r = platform.acquisition.results(CLI_ACTOR, campaign_id)
        lift = r.lift
        console.print(f"{r.campaign.name}: delivered {r.delivered}, opened {r.opened}")
        console.print(
            f"treated {lift.treated_converted}/{lift.treated},"
            f" holdout {lift.holdout_converted}/{lift.holdout}"
        )
        if lift.lift is None:
            console.print("lift: not measurable yet (an arm is empty)")
        else:
            console.print(f"lift {lift.lift:+.4f} [{lift.low:+.4f}, {lift.high:+.4f}] (95 %)")


def register(app: typer.Typer) -> None:
    app.add_typer(acquisition_app, name="acquisition")
