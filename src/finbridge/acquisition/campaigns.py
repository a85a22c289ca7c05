"""Campaign specs and the contact policy: schedule, quiet hours, caps, the permanent holdout.

Pure functions and value objects; the service (:mod:`.service`) reads and writes the rows.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from finbridge.core.errors import ValidationError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_NAME = re.compile(r"^[\w\- .]{1,80}$")
MIN_HOLDOUT, MAX_HOLDOUT = 0.01, 0.5


def parse_hhmm(value: Any, field: str) -> time:
    if not isinstance(value, str) or not (m := _HHMM.match(value)):
        raise ValidationError("a local time as HH:MM", field=field)
    return time(int(m.group(1)), int(m.group(2)))


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}", field=field) from None


def in_quiet(at: time, start: time, end: time) -> bool:
    """Quiet hours may wrap midnight (22:00-07:00)."""
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


@dataclass(frozen=True)
class Schedule:
    kind: str  # "fixed" | "send_time"
    at: time | None  # fixed local time
    lead_minutes: int  # send_time: this long before the habit's first minute

    @classmethod
    def parse(cls, raw: Any) -> Schedule:
        if not isinstance(raw, dict):
            raise ValidationError("schedule must be an object", field="schedule")
        kind = raw.get("kind")
        if kind == "fixed":
            return cls("fixed", parse_hhmm(raw.get("at"), "schedule.at"), 0)
        if kind == "send_time":
            lead = raw.get("lead_minutes", 10)
            if not isinstance(lead, int) or isinstance(lead, bool) or not 0 <= lead <= 120:
                raise ValidationError("lead_minutes must be 0..120", field="schedule.lead_minutes")
            return cls("send_time", None, lead)
        raise ValidationError("schedule.kind must be fixed or send_time", field="schedule.kind")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.at is not None:
            out["at"] = self.at.strftime("%H:%M")
        if self.kind == "send_time":
            out["lead_minutes"] = self.lead_minutes
        return out


@dataclass(frozen=True)
class CampaignSpec:
    """A campaign as saved: every field checked, nothing left to fail at send time."""

    name: str
    audience: str
    offer_code: str | None
    creative_name: str
    creative_version: int | None
    schedule: Schedule
    quiet_start: time
    quiet_end: time
    cap_per_day: int
    cap_per_week: int
    holdout_share: float

    @classmethod
    def parse(cls, raw: dict[str, Any], *, quiet: tuple[str, str]) -> CampaignSpec:
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError("name: 1-80 letters, digits, spaces, . _ -", field="name")
        holdout = raw.get("holdout_share")
        if holdout is None or holdout == 0:
            raise ValidationError(
                "a campaign needs a holdout group to measure its lift", field="holdout_share"
            )
        if (
            isinstance(holdout, bool)
            or not isinstance(holdout, int | float)
            or not (MIN_HOLDOUT <= holdout <= MAX_HOLDOUT)
        ):
            raise ValidationError(
                f"holdout_share must be between {MIN_HOLDOUT} and {MAX_HOLDOUT}",
                field="holdout_share",
            )
        caps = {}
        for key, default, top in (("cap_per_day", 1, 10), ("cap_per_week", 3, 50)):
            value = raw.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
                raise ValidationError(f"{key} must be 1..{top}", field=key)
            caps[key] = value
        if caps["cap_per_week"] < caps["cap_per_day"]:
            raise ValidationError("cap_per_week is below cap_per_day", field="cap_per_week")
        q_start = parse_hhmm(raw.get("quiet_start", quiet[0]), "quiet_start")
        q_end = parse_hhmm(raw.get("quiet_end", quiet[1]), "quiet_end")
        schedule = Schedule.parse(raw.get("schedule"))
        if schedule.at is not None and in_quiet(schedule.at, q_start, q_end):
            raise ValidationError(
                f"{schedule.at:%H:%M} is inside the quiet hours {q_start:%H:%M}-{q_end:%H:%M}",
                field="schedule.at",
            )
        creative = raw.get("creative")
        if not isinstance(creative, str) or not creative:
            raise ValidationError("creative must name a saved creative", field="creative")
        version = raw.get("creative_version")
        if version is not None and (
            not isinstance(version, int) or isinstance(version, bool) or version < 1
        ):
            raise ValidationError(
                "creative_version must be a positive integer", field="creative_version"
            )
        offer = raw.get("offer_code")
        if offer is not None and not isinstance(offer, str):
            raise ValidationError("offer_code must be a product code", field="offer_code")
        audience = raw.get("audience")
        return cls(
            name,
            audience if isinstance(audience, str) else "",
            offer,
            creative,
            version,
            schedule,
            q_start,
            q_end,
            caps["cap_per_day"],
            caps["cap_per_week"],
            float(holdout),
        )


def in_holdout(campaign_id: str, customer_id: str, share: float) -> bool:
    """Permanent and random: the same customer is always in (or out of) a campaign's holdout,
    decided by a hash nobody can steer, uniform on [0, 1)."""
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def local_send_time(hour: int, first_minute: int, day: date, lead_minutes: int) -> time:
    """``lead_minutes`` before the earliest minute the person was seen in their best ``hour``
    (the hour's start when never seen), kept on ``day``."""
    start = datetime.combine(day, time(hour, max(first_minute, 0))) - timedelta(
        minutes=lead_minutes
    )
    if start.date() != day:
        return time(0, 0)
    return start.time()


def out_of_quiet(at: time, start: time, end: time, lead_minutes: int) -> time:
    """A per-person time inside quiet hours moves to their edge: mornings to the end of the
    quiet hours, evenings to ``lead_minutes`` before they start."""
    if not in_quiet(at, start, end):
        return at
    if (start > end and at < end) or (start < end and at < start):
        return end
    moved = datetime.combine(date(2000, 1, 1), start) - timedelta(minutes=max(lead_minutes, 1))
    return moved.time()


def utc_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Lift:
    treated: int
    treated_converted: int
    holdout: int
    holdout_converted: int
    rate_treated: float | None
    rate_holdout: float | None
    lift: float | None
    low: float | None
    high: float | None
    confidence: float = 0.95

    @classmethod
    def measure(cls, nt: int, ct: int, nh: int, ch: int, confidence: float = 0.95) -> Lift:
        """Difference of conversion rates with a Wald interval (normal approximation; wide and
        honest when the groups are small, undefined when one is empty)."""
        if nt == 0 or nh == 0:
            return cls(
                nt,
                ct,
                nh,
                ch,
                ct / nt if nt else None,
                ch / nh if nh else None,
                None,
                None,
                None,
                confidence,
            )
        pt, ph = ct / nt, ch / nh
        se = math.sqrt(pt * (1 - pt) / nt + ph * (1 - ph) / nh)
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        diff = pt - ph
        return cls(nt, ct, nh, ch, pt, ph, diff, diff - z * se, diff + z * se, confidence)
