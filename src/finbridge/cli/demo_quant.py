"""Demo: one imported market, so the console's "Imported markets" panel shows what an import
records. The bundled US ETF slice goes through ``quant data import``'s own path (checked
against the XNYS calendar), as a user's file would."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import as_file, files

from finbridge.core.principal import Principal
from finbridge.platform import Platform

DEMO_MARKET = "demo_us_etfs"
_FILE = ("market", "us_etfs_slice_2013_2017.parquet")
_ACTOR = Principal.system("demo")


def seed_imported_market(platform: Platform, say: Callable[[str], None]) -> str | None:
    """Import the bundled ETF slice as market ``demo_us_etfs`` unless a market exists."""
    quant = platform.quant
    if quant.markets(_ACTOR):
        return None
    say(f"importing the shipped ETF slice as market {DEMO_MARKET} (calendar XNYS)")
    with as_file(files("finbridge").joinpath("datasets", *_FILE)) as path:
        info = quant.import_market(_ACTOR, path, market=DEMO_MARKET, calendar="XNYS")
    return f"{info.name}: {info.instruments} instruments, {info.rows:,} bars"
