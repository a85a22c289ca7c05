"""The data-quality checks run on every materialisation (``lake.quality.check_frame``).

A snapshot must have its entity and instant on every row, one row per (entity, instant), no
instant at or after the materialisation's ``until`` (a leak would show here first), no negative
count, and a volume in line with the previous snapshot (a view that suddenly yields a tenth of
its rows, or ten times, is refused rather than served). A failure raises ``QualityError``
naming every failed check; nothing is written.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from finbridge.lake.featurestore._definitions import ENTITY_TIME, FeatureView


def check_materialisation(
    table: pa.Table, view: FeatureView, until: datetime, previous_rows: int | None
) -> None:
    from finbridge.lake.quality import check_frame

    counts = {f.name: (0, None) for f in view.features if f.name.startswith("spend_count_")}
    report = check_frame(
        table,
        name=f"features {view.ref}",
        required=[view.entity, ENTITY_TIME],
        unique=[view.entity, ENTITY_TIME],
        ranges=counts,
        time_column=ENTITY_TIME,
        not_after=until,
        recent_rows=[previous_rows] if previous_rows else (),
        volume_floor=1_000,
    )
    report.raise_if_failed()
