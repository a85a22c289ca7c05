"""Demo seeding: a campaign with deliveries from simulated reading, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.acquisition.conftest import SYSTEM, new_customer

from finbridge.cli.demo_acquisition import CAMPAIGN, seed_acquisition
from finbridge.platform import Platform


@pytest.mark.slow  # trains the response and uplift models on the shipped slices (~5 s CPU)
def test_demo_seeds_a_campaign_with_deliveries_once(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    for k in range(30):
        new_customer(p, f"demo {k}", consent=False)
    # 12:00 in Shanghai: the morning readers' digests are already due.
    p.clock.set(datetime(2020, 12, 3, 4, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    line = seed_acquisition(p)
    assert line is not None and CAMPAIGN in line
    campaign = next(c for c in p.acquisition.campaigns(SYSTEM) if c.name == CAMPAIGN)
    deliveries = p.acquisition.deliveries(SYSTEM, campaign.id, limit=1000)
    assert any(d.status == "delivered" for d in deliveries)
    delivered = next(d for d in deliveries if d.status == "delivered")
    assert delivered.title is not None and delivered.title.startswith("财经早餐")
    # only customers with the recorded consent (two in three) are planned
    assert 0 < len({d.customer_id for d in deliveries}) <= 20
    assert seed_acquisition(p) is None
    # The models were trained once and are served: offers name the live version.
    (version,) = p.acquisition.model_versions(SYSTEM)
    assert version.version == "v0001" and version.uplift_chosen
    reader = delivered.customer_id
    assert all(o.model_version == "v0001" for o in p.acquisition.offers(SYSTEM, reader))
