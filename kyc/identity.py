"""Identity number formats per type, and the age rule. Numbers are normalised
(upper case, spaces and hyphens removed) before they are checked and encrypted."""

from __future__ import annotations

import re
from datetime import date

from kyc.models import IdType

ID_NUMBER_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    # Indian Permanent Account Number: five letters, four digits, one letter.
    IdType.PAN: (
        re.compile(r"[A-Z]{5}[0-9]{4}[A-Z]"),
        "five letters, four digits, one letter (e.g. ABCDE1234F)",
    ),
    # ICAO 9303 machine-readable document number: up to 9 letters/digits.
    IdType.PASSPORT: (
        re.compile(r"[A-Z0-9]{6,9}"),
        "6 to 9 letters or digits",
    ),
    IdType.NATIONAL_ID: (
        re.compile(r"[A-Z0-9]{5,20}"),
        "5 to 20 letters or digits",
    ),
    IdType.DRIVING_LICENCE: (
        re.compile(r"[A-Z0-9]{5,20}"),
        "5 to 20 letters or digits",
    ),
}


def normalise_id_number(value: str) -> str:
    return re.sub(r"[\s\-]", "", value or "").upper()


def id_number_problem(id_type: str, number: str) -> str | None:
    """None when `number` (normalised) fits `id_type`, else what is expected."""
    if id_type not in ID_NUMBER_PATTERNS:
        return "unknown identity document type."
    pattern, expected = ID_NUMBER_PATTERNS[id_type]
    if not pattern.fullmatch(number):
        return f"a {IdType(id_type).label} number is {expected}."
    return None


def age_on(born: date, today: date) -> int:
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years
