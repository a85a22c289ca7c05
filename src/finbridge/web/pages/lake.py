"""Console page for the event lake: browse events, read ingestion reports, upload a file.

Every call goes through :class:`finbridge.lake.EventService` with the signed-in principal, the
same checks the ``/v1/events`` API applies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError, PayloadTooLarge
from finbridge.lake import known_event_types
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/lake", include_in_schema=False)
NAV = ("Events", "/console/lake")
NAV_ORDER = 20


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)  # <input type=date> sends YYYY-MM-DD
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("")
def index(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    service = platform.events
    filters = {"type": type or "", "subject": subject or "", "since": since or ""}
    error = None
    try:
        events = service.list_events(
            actor,
            event_type=type or None,
            subject_id=subject or None,
            since=_since(since),
            limit=50,
        )
    except (FinbridgeError, ValueError) as exc:
        events, error = [], str(exc)
    try:
        ingestions = service.ingestions(actor, limit=20)
    except FinbridgeError:
        ingestions = None
    context = {
        "events": events,
        "error": error,
        "filters": filters,
        "types": sorted(known_event_types()),
        "ingestions": ingestions,
    }
    name = (
        "lake/_events.html" if request.headers.get("HX-Target") == "events" else "lake/index.html"
    )
    return render(request, name, context)


@router.get("/ingestions/{ingestion_id}")
def ingestion(
    request: Request, ingestion_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    try:
        report = platform.events.ingestion(actor, ingestion_id)
    except FinbridgeError as exc:
        return render(request, "lake/_report.html", {"report": None, "error": str(exc)})
    return render(request, "lake/_report.html", {"report": report, "error": None})


@router.post("/ingest")
def ingest(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    file: Annotated[UploadFile, File()],
    source: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    limit = platform.events.max_upload_bytes
    try:
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes", field="file")
        report = platform.events.ingest(
            actor, data, source=source.strip() or None, filename=file.filename
        )
    except FinbridgeError as exc:
        return render(request, "lake/_report.html", {"report": None, "error": str(exc)})
    return render(request, "lake/_report.html", {"report": report, "error": None})
