"""``/v1/events``: partner file ingestion, event queries and ingestion (rejection) reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.schemas.events import EventPublic, IngestionPublic
from finbridge.core.errors import PayloadTooLarge

router = APIRouter(prefix="/events", tags=["events"])


@router.post(
    "/ingest",
    response_model=IngestionPublic,
    summary="Ingest a partner file (JSON Lines or Parquet); returns the report with rejections",
)
def ingest(
    platform: PlatformDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="JSON Lines (.jsonl) or Parquet (.parquet)")],
    source: Annotated[str | None, Form(max_length=64)] = None,
    format: Annotated[Literal["jsonl", "parquet"] | None, Form()] = None,
) -> IngestionPublic:
    limit = platform.events.max_upload_bytes
    # Read one byte past the limit: a chunked upload has no Content-Length to refuse up front.
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes", field="file")
    report = platform.events.ingest(
        principal, data, fmt=format, source=source, filename=file.filename
    )
    return IngestionPublic.of(report)


@router.get("", response_model=list[EventPublic], summary="Events, newest first")
def list_events(
    platform: PlatformDep,
    principal: PrincipalDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventPublic]:
    events = platform.events.list_events(
        principal, event_type=type, subject_id=subject, since=since, until=until, limit=limit
    )
    return [EventPublic.of(e) for e in events]


@router.get(
    "/ingestions", response_model=list[IngestionPublic], summary="Recent ingestions, newest first"
)
def list_ingestions(
    platform: PlatformDep,
    principal: PrincipalDep,
    rejected_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[IngestionPublic]:
    reports = platform.events.ingestions(principal, limit=limit, rejected_only=rejected_only)
    return [IngestionPublic.of(r, with_rejections=False) for r in reports]


@router.get(
    "/ingestions/{ingestion_id}",
    response_model=IngestionPublic,
    summary="One ingestion with its full rejection report",
)
def get_ingestion(
    platform: PlatformDep, principal: PrincipalDep, ingestion_id: str
) -> IngestionPublic:
    return IngestionPublic.of(platform.events.ingestion(principal, ingestion_id))


@router.get(
    "/ingestions/{ingestion_id}/rejections",
    response_class=StreamingResponse,
    summary="Every rejected row of one ingestion (the full report in the lake), JSON Lines",
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def list_all_rejections(
    platform: PlatformDep, principal: PrincipalDep, ingestion_id: str
) -> StreamingResponse:
    # Authorised (another partner's report: 404) before the first byte goes out.
    rows = platform.events.ingestion_rejections(principal, ingestion_id)

    def lines() -> Iterator[bytes]:
        for r in rows:
            yield json.dumps(r.to_dict(), ensure_ascii=False).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
