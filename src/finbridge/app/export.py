""" "Download all my data": a ZIP of JSON and CSV files, each produced by the service that owns
the data, through the customer's own principal (so the services' authorisation applies).

Personal data is decrypted only here, for the owner, through identity's ``reveal`` (each field
audited with the reason "data export"), and the export itself is audited once more. An engine
that holds customer data adds a :class:`DataExport` to :data:`finbridge.app.mount.DATA_EXPORTS`.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from finbridge.app.security import customer_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

# One file's content: a JSON-able value (-> .json) or rows for a CSV (-> .csv, list of dicts).
ExportFiles = Mapping[str, Any]
Exporter = Callable[[Platform, Principal], ExportFiles]
REASON = "data export requested by the customer"
HISTORY_PAGE = 200


@dataclass(frozen=True, slots=True)
class DataExport:
    """``name``: the folder in the ZIP; ``files``: file name -> content."""

    name: str
    files: Exporter


def _plain(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency.code}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f: _plain(getattr(value, f)) for f in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def identity_files(platform: Platform, actor: Principal) -> ExportFiles:
    ids = platform.identity
    me = customer_id(actor)
    view = ids.persons.view(actor, me)
    revealed = {
        column: ids.persons.reveal(actor, me, column, REASON)
        for column in ("name", "id_number", "phone", "birth_date")
    }
    profile = {
        "customer_id": me,
        **revealed,
        "id_type": view.id_type,
        "id_country": view.id_country,
        "kyc_status": view.kyc_status,
        "bank_cards_masked": list(view.cards),
        "second_factors": list(view.factors),
    }
    return {
        "profile.json": profile,
        "consents.json": ids.consents.list(actor, me),
        "sessions.json": ids.sessions.list(actor, me),
        "sign_ins.json": ids.status.sign_ins(actor, me, limit=100),
        "messages.json": ids.inbox.list(actor, me, limit=200),
        "privacy_requests.json": ids.privacy.list(actor, me),
    }


def banking_files(platform: Platform, actor: Principal) -> ExportFiles:
    bank = platform.banking
    accounts = bank.list_accounts(actor, customer_id=customer_id(actor), limit=100).items
    rows: list[dict[str, Any]] = []
    for account in accounts:
        cursor: str | None = None
        while True:
            page = bank.history(actor, account.id, limit=HISTORY_PAGE, cursor=cursor)
            for item in page.items:
                rows.append(
                    {
                        "account_id": account.id,
                        "posting_id": item.posting_id,
                        "entry_id": item.entry_id,
                        "kind": item.kind.value,
                        "amount": str(item.amount.amount),
                        "currency": item.amount.currency.code,
                        "balance_after": str(item.balance_after.amount),
                        "description": item.description,
                        "created_at": item.created_at.isoformat(),
                    }
                )
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    return {"accounts.json": accounts, "transactions.csv": rows}


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # A BOM so spreadsheet programs open the Chinese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def build_zip(
    platform: Platform, actor: Principal, exports: tuple[DataExport, ...]
) -> tuple[bytes, int]:
    """The ZIP's bytes and how many files it holds; audited as ``data.export``."""
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for export in exports:
            for name, content in export.files(platform, actor).items():
                path = f"{export.name}/{name}"
                if name.endswith(".csv"):
                    archive.writestr(path, _csv(list(content)))
                else:
                    text = json.dumps(_plain(content), ensure_ascii=False, indent=2)
                    archive.writestr(path, text.encode())
                count += 1
    platform.identity.audit.record(
        actor=actor.id,
        action="data.export",
        subject=customer_id(actor),
        outcome="success",
        detail={"files": count},
    )
    return buffer.getvalue(), count


CORE_EXPORTS: tuple[DataExport, ...] = (
    DataExport("identity", identity_files),
    DataExport("banking", banking_files),
)
