"""KYC validators, table-driven: valid values pass normalised, invalid ones name the field."""

from __future__ import annotations

from datetime import date

import pytest

from finbridge.core.errors import ValidationError
from finbridge.identity import kyc

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("value", "birth", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "F"),
        ("11010519491231002x", date(1949, 12, 31), "F"),  # lower-case X accepted
        ("110101199003074477", date(1990, 3, 7), "M"),
        ("310115 19870214 1238", date(1987, 2, 14), "M"),  # separators ignored
        ("510108200002290017", date(2000, 2, 29), "M"),  # leap day
        ("110105491231002", date(1949, 12, 31), "F"),  # 15-digit legacy converted
    ],
)
def test_valid_resident_ids(value: str, birth: date, sex: str) -> None:
    rid = kyc.parse_prc_id(value, today=TODAY)
    assert rid.birth_date == birth
    assert rid.sex == sex
    assert len(rid.number) == 18


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("110105194912310021", "check digit"),  # wrong check digit
        ("11010519491231002", "18 characters"),  # too short
        ("1101051949123100XX", "18 characters"),
        ("110101199002304471", "does not exist"),  # 30 February (check digit recomputed below)
        ("440524188001010014", "before 1900"),
        ("990101199003074474", "region code"),
        ("", "18 characters"),
    ],
)
def test_invalid_resident_ids(value: str, message: str) -> None:
    if message in ("does not exist", "region code"):
        value = value[:17] + kyc.prc_check_digit(value[:17])  # only the date/region is wrong
    with pytest.raises(ValidationError, match=message) as info:
        kyc.parse_prc_id(value, today=TODAY)
    assert info.value.field == "id_number"


def test_future_birth_date_refused() -> None:
    body = "11010120300101001"
    with pytest.raises(ValidationError, match="future"):
        kyc.parse_prc_id(body + kyc.prc_check_digit(body), today=TODAY)


def test_legacy_conversion_matches_known_pair() -> None:
    assert kyc.convert_legacy_id("110105491231002") == "11010519491231002X"
    with pytest.raises(ValidationError, match="15 digits"):
        kyc.convert_legacy_id("11010549123100")


@pytest.mark.parametrize(
    ("value", "normalised"),
    [("A123456(3)", "A1234563"), ("AB987654(3)", "AB9876543"), ("g123456a", "G123456A")],
)
def test_valid_hkid(value: str, normalised: str) -> None:
    assert kyc.validate_hkid(value) == normalised


@pytest.mark.parametrize(
    ("value", "message"),
    [("A123456(4)", "check character"), ("1234567", "letters"), ("ABC123456(7)", "letters")],
)
def test_invalid_hkid(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        kyc.validate_hkid(value)
    assert info.value.field == "id_number"


def test_documents_by_type() -> None:
    doc = kyc.validate_document(
        "passport",
        "x1234567",
        today=TODAY,
        birth_date=date(1980, 5, 1),
        country="deu",
        expires=date(2030, 1, 1),
    )
    assert (doc.number, doc.country) == ("X1234567", "DEU")
    hk = kyc.validate_document("hk_id", "A123456(3)", today=TODAY, birth_date=date(1990, 1, 1))
    assert hk.country == "HKG"
    prc = kyc.validate_document("prc_resident_id", "110101199003074477", today=TODAY)
    assert prc.birth_date == date(1990, 3, 7)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"doc_type": "driving_licence", "number": "x"}, "id_type", "one of"),
        (
            {
                "doc_type": "prc_resident_id",
                "number": "110101199003074477",
                "birth_date": date(1990, 3, 8),
            },
            "birth_date",
            "does not match",
        ),
        ({"doc_type": "hk_id", "number": "A123456(3)"}, "birth_date", "required"),
        (
            {"doc_type": "hk_id", "number": "A123456(3)", "birth_date": date(2030, 1, 1)},
            "birth_date",
            "impossible",
        ),
        (
            {
                "doc_type": "passport",
                "number": "X1234567",
                "birth_date": date(1980, 1, 1),
                "country": "CHN",
                "expires": date(2030, 1, 1),
            },
            "country",
            "resident ID",
        ),
        (
            {
                "doc_type": "passport",
                "number": "X1234567",
                "birth_date": date(1980, 1, 1),
                "country": "DE",
                "expires": date(2030, 1, 1),
            },
            "country",
            "alpha-3",
        ),
        (
            {
                "doc_type": "passport",
                "number": "X1234567",
                "birth_date": date(1980, 1, 1),
                "country": "DEU",
                "expires": date(2020, 1, 1),
            },
            "document_expires",
            "expired",
        ),
        (
            {
                "doc_type": "passport",
                "number": "X1",
                "birth_date": date(1980, 1, 1),
                "country": "DEU",
                "expires": date(2030, 1, 1),
            },
            "id_number",
            "5 to 9",
        ),
    ],
)
def test_invalid_documents_name_the_field(kwargs: dict, field: str, message: str) -> None:
    doc_type = kwargs.pop("doc_type")
    number = kwargs.pop("number")
    with pytest.raises(ValidationError, match=message) as info:
        kyc.validate_document(doc_type, number, today=TODAY, **kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 19912345678", "19912345678"),
    ],
)
def test_valid_mobile(value: str, normalised: str) -> None:
    assert kyc.validate_mobile(value) == normalised


@pytest.mark.parametrize(
    "value", ["12812345678", "1381234567", "138123456789", "+1 4155550100", ""]
)
def test_invalid_mobile(value: str) -> None:
    with pytest.raises(ValidationError, match="11 digits") as info:
        kyc.validate_mobile(value)
    assert info.value.field == "phone"


@pytest.mark.parametrize("value", ["6222021234567890128", "4111 1111 1111 1111", "378282246310005"])
def test_valid_cards(value: str) -> None:
    assert kyc.validate_bank_card(value) == value.replace(" ", "")


@pytest.mark.parametrize(
    ("value", "message"),
    [("6222021234567890127", "Luhn"), ("4111", "12 to 19"), ("4111-1111-abcd-1111", "12 to 19")],
)
def test_invalid_cards(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        kyc.validate_bank_card(value)
    assert info.value.field == "card_number"


@pytest.mark.parametrize(
    "value", ["张三", "欧阳娜娜", "阿依古丽·买买提", "Anna-Lena O'Brien", "José  Álvarez"]
)
def test_valid_names(value: str) -> None:
    assert kyc.validate_name(value) == " ".join(value.split())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("张", "2 to 20"),
        ("", "empty"),
        ("Robert'); DROP TABLE--", "cannot have"),
        ("李4", "cannot have"),
        ("<script>", "cannot have"),
    ],
)
def test_invalid_names(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        kyc.validate_name(value)
    assert info.value.field == "name"


@pytest.mark.parametrize(
    ("birth", "adult"),
    [
        (date(2008, 11, 25), True),
        (date(2008, 11, 26), False),
        (date(2008, 2, 29), True),
        (date(1949, 12, 31), True),
    ],
)
def test_age_18_plus_for_credit(birth: date, adult: bool) -> None:
    if adult:
        kyc.require_adult(birth, today=TODAY)
    else:
        with pytest.raises(ValidationError, match="at least 18") as info:
            kyc.require_adult(birth, today=TODAY)
        assert info.value.field == "birth_date"


def test_region_table_has_historic_and_current_codes() -> None:
    codes = kyc.region_codes()
    assert {"110105", "440300", "652201"} <= codes
    assert len(codes) > 6000


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(
    body=st.text("0123456789", min_size=17, max_size=17),
    pos=st.integers(0, 16),
    delta=st.integers(1, 9),
)
def test_check_digit_catches_every_single_digit_error(body: str, pos: int, delta: int) -> None:
    """ISO 7064 MOD 11-2 detects any one mistyped digit (weights are non-zero mod 11)."""
    mutated = body[:pos] + str((int(body[pos]) + delta) % 10) + body[pos + 1 :]
    assert kyc.prc_check_digit(mutated) != kyc.prc_check_digit(body)


@given(
    digits=st.text("0123456789", min_size=12, max_size=18),
    pos=st.integers(0, 11),
    delta=st.integers(1, 9),
)
def test_luhn_catches_every_single_digit_error(digits: str, pos: int, delta: int) -> None:
    check = next(d for d in "0123456789" if kyc.luhn_ok(digits + d))
    card = digits + check
    mutated = card[:pos] + str((int(card[pos]) + delta) % 10) + card[pos + 1 :]
    assert kyc.validate_bank_card(card) == card
    assert not kyc.luhn_ok(mutated)
