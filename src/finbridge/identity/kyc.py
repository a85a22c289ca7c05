"""KYC validators: identity documents, mobile numbers, bank cards, names and age.

Every validator returns the normalised value or raises :class:`ValidationError` naming the field,
so the API can say exactly which input is wrong. They are pure functions (no database, no clock:
"today" is passed in), which keeps them table-testable.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path

from finbridge.core.errors import ValidationError

_REGIONS_FILE = Path(__file__).resolve().parents[1] / "datasets" / "identity" / "gb2260_regions.tsv"

# GB 11643-1999: weights are 2^(17-i) mod 11; the check character is indexed by the sum mod 11.
_PRC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PRC_CHECK = "10X98765432"

# Province-level prefixes (first two digits of GB/T 2260), used when a six-digit code is unknown
# to the shipped table only to produce a more precise message.
PROVINCES: dict[str, str] = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建",
    "36": "江西", "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
    "71": "台湾", "81": "香港", "82": "澳门", "83": "台湾",
}  # fmt: skip

_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_HKID_RE = re.compile(r"([A-Z]{1,2})(\d{6})\(?([0-9A])\)?")
_PASSPORT_RE = re.compile(r"[A-Z0-9]{5,9}")
_CJK_NAME_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+(?:[·•][\u3400-\u9fff\uf900-\ufaff]+)*")
_LATIN_NAME_RE = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+(?:[ '\-.,][A-Za-zÀ-ÖØ-öø-ÿ]+)*\.?")


class DocumentType(StrEnum):
    PRC_RESIDENT_ID = "prc_resident_id"
    HK_ID = "hk_id"
    PASSPORT = "passport"


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A checked PRC resident identity number and what it encodes."""

    number: str
    region_code: str
    birth_date: date
    sex: str  # "M" or "F": the 17th digit is odd for men


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    """A validated identity document; ``number`` is normalised (upper case, no separators)."""

    type: DocumentType
    number: str
    country: str  # ISO 3166-1 alpha-3 of the issuer
    birth_date: date


@cache
def region_codes() -> frozenset[str]:
    """All six-digit division codes that ever existed (1980-2019), from the shipped slice."""
    lines = _REGIONS_FILE.read_text(encoding="utf-8").splitlines()[1:]
    return frozenset(line.split("\t", 1)[0] for line in lines if line)


def prc_check_digit(body17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(body17, _PRC_WEIGHTS, strict=True))
    return _PRC_CHECK[total % 11]


def _parse_date(yyyymmdd: str, field: str) -> date:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise ValidationError(f"birth date {yyyymmdd} does not exist", field=field) from None


def convert_legacy_id(value: str, *, field: str = "id_number") -> str:
    """Turn a 15-digit first-generation ID (issued before 2000, YYMMDD birth) into 18 digits."""
    raw = _compact(value)
    if not re.fullmatch(r"\d{15}", raw):
        raise ValidationError("a legacy resident ID has exactly 15 digits", field=field)
    body = raw[:6] + "19" + raw[6:]
    return body + prc_check_digit(body)


def parse_prc_id(value: str, *, today: date, field: str = "id_number") -> ResidentId:
    """Validate an 18-digit (or legacy 15-digit) PRC resident ID number.

    Checks: shape, check digit, a real birth date not in the future and not before 1900, and a
    region code that exists in GB/T 2260.

    >>> parse_prc_id("11010519491231002X", today=date(2026, 1, 1)).birth_date
    datetime.date(1949, 12, 31)
    """
    if not isinstance(value, str):
        raise ValidationError("resident ID must be a string", field=field)
    raw = _compact(value).upper()
    if len(raw) == 15:
        raw = convert_legacy_id(raw, field=field)
    if not re.fullmatch(r"\d{17}[\dX]", raw):
        raise ValidationError(
            "a resident ID has 18 characters: 17 digits and a digit or X", field=field
        )
    expected = prc_check_digit(raw[:17])
    if raw[17] != expected:
        raise ValidationError("resident ID check digit is wrong (GB 11643)", field=field)
    birth = _parse_date(raw[6:14], field)
    if birth > today:
        raise ValidationError("birth date in the resident ID is in the future", field=field)
    if birth.year < 1900:
        raise ValidationError("birth date in the resident ID is before 1900", field=field)
    region = raw[:6]
    if region not in region_codes():
        province = PROVINCES.get(region[:2])
        where = f"province {province}" if province else "no province"
        raise ValidationError(
            f"region code {region} is not a GB/T 2260 division ({where})", field=field
        )
    return ResidentId(raw, region, birth, "M" if int(raw[16]) % 2 else "F")


def hkid_check_digit(prefix: str, digits: str) -> str:
    """Hong Kong identity card check character (mod 11 over letters and digits)."""
    letters = prefix.rjust(2)  # a one-letter prefix counts as a space worth 36
    values = [36 if c == " " else ord(c) - ord("A") + 10 for c in letters]
    values += [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def validate_hkid(value: str, *, field: str = "id_number") -> str:
    """Validate a Hong Kong ID like ``A123456(3)``; returns ``A1234563``."""
    raw = _compact(value).upper() if isinstance(value, str) else ""
    match = _HKID_RE.fullmatch(raw)
    if not match:
        raise ValidationError(
            "a Hong Kong ID is one or two letters, six digits and a check character",
            field=field,
        )
    prefix, digits, check = match.groups()
    if hkid_check_digit(prefix, digits) != check:
        raise ValidationError("Hong Kong ID check character is wrong", field=field)
    return prefix + digits + check


def validate_passport(
    number: str, country: str, *, today: date, expires: date | None, field: str = "id_number"
) -> tuple[str, str]:
    """ICAO 9303 rules: 5-9 letters/digits, an ISO alpha-3 issuer, not expired.

    Mainland Chinese citizens open accounts with their resident ID, so a CHN passport is refused
    here (the bank's KYC policy, not a property of passports).
    """
    num = _compact(number).upper() if isinstance(number, str) else ""
    if not _PASSPORT_RE.fullmatch(num):
        raise ValidationError("a passport number has 5 to 9 letters or digits", field=field)
    cc = (country or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", cc):
        raise ValidationError("country must be an ISO 3166-1 alpha-3 code", field="country")
    if cc == "CHN":
        raise ValidationError(
            "mainland Chinese citizens register with their resident ID", field="country"
        )
    if expires is None:
        raise ValidationError("passport expiry date is required", field="document_expires")
    if expires <= today:
        raise ValidationError("passport has expired", field="document_expires")
    return num, cc


def validate_document(
    doc_type: str,
    number: str,
    *,
    today: date,
    birth_date: date | None = None,
    country: str | None = None,
    expires: date | None = None,
) -> IdentityDocument:
    """Validate any supported identity document; the birth date is read from a PRC ID."""
    try:
        kind = DocumentType(doc_type)
    except ValueError:
        allowed = ", ".join(t.value for t in DocumentType)
        raise ValidationError(f"document type must be one of {allowed}", field="id_type") from None
    if kind is DocumentType.PRC_RESIDENT_ID:
        rid = parse_prc_id(number, today=today)
        if birth_date is not None and birth_date != rid.birth_date:
            raise ValidationError("birth date does not match the resident ID", field="birth_date")
        return IdentityDocument(kind, rid.number, "CHN", rid.birth_date)
    if birth_date is None:
        raise ValidationError("birth date is required for this document", field="birth_date")
    if birth_date > today or birth_date.year < 1900:
        raise ValidationError("birth date is impossible", field="birth_date")
    if kind is DocumentType.HK_ID:
        return IdentityDocument(kind, validate_hkid(number), "HKG", birth_date)
    num, cc = validate_passport(number, country or "", today=today, expires=expires)
    return IdentityDocument(kind, num, cc, birth_date)


def validate_mobile(value: str, *, field: str = "phone") -> str:
    """A mainland mobile number (11 digits starting 13-19); +86/0086 and separators allowed."""
    raw = _compact(value) if isinstance(value, str) else ""
    for prefix in ("+86", "0086"):
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
    if not _MOBILE_RE.fullmatch(raw):
        raise ValidationError(
            "a mainland mobile number has 11 digits and starts with 13-19", field=field
        )
    return raw


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def validate_bank_card(value: str, *, field: str = "card_number") -> str:
    """A payment card number: 12-19 digits passing the Luhn check."""
    raw = _compact(value) if isinstance(value, str) else ""
    if not re.fullmatch(r"\d{12,19}", raw):
        raise ValidationError("a card number has 12 to 19 digits", field=field)
    if not luhn_ok(raw):
        raise ValidationError("card number fails the Luhn check", field=field)
    return raw


def validate_name(value: str, *, field: str = "name") -> str:
    """A person's name: Chinese (2-20 characters, middle dot for transliterations) or Latin."""
    if not isinstance(value, str):
        raise ValidationError("name must be text", field=field)
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if not name:
        raise ValidationError("name must not be empty", field=field)
    if _CJK_NAME_RE.fullmatch(name):
        if not 2 <= len(name) <= 20:
            raise ValidationError("a Chinese name has 2 to 20 characters", field=field)
        return name
    if _LATIN_NAME_RE.fullmatch(name):
        if len(name) > 100:
            raise ValidationError("name is longer than 100 characters", field=field)
        return name
    raise ValidationError("name contains characters a personal name cannot have", field=field)


def age_on(birth: date, today: date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def require_adult(
    birth: date, *, today: date, minimum: int = 18, field: str = "birth_date"
) -> None:
    """Credit products need an adult customer."""
    if age_on(birth, today) < minimum:
        raise ValidationError(f"customer must be at least {minimum} years old", field=field)


def _compact(value: str) -> str:
    return re.sub(r"[\s\-]", "", value)
