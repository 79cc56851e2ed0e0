"""Turn a record as an agency sent it into the columns the linkage model compares.

The same function prepares a row for a batch run, a CSV being deduplicated and a single
record matched online, so the three can never disagree about what "the same name" means.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from cylch.identity.names import fold, headword, token_variants
from cylch.identity.postcodes import UK_POSTCODE

# The fields a record can offer, as named on the command line (`cylch link csv --map`).
FIELDS = (
    "given_name",
    "surname",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
    "town",
    "nhs_number",
    "pupil_number",
    "other_id",
)

# Columns of the prepared table, in order; ``given_variants`` is a list, the rest text.
COLUMNS = (
    "unique_id",
    "given_name",
    "given_canon",
    "given_variants",
    "surname",
    "surname_initial",
    "dob",
    "dob_swapped",
    "birth_year",
    "birth_month_day",
    "sex",
    "postcode",
    "postcode_sector",
    "postcode_district",
    "address",
    "town",
    "nhs_number",
    "pupil_number",
    "other_id",
)

_SEX = {
    "f": "female",
    "female": "female",
    "girl": "female",
    "benyw": "female",
    "m": "male",
    "male": "male",
    "boy": "male",
    "gwryw": "male",
    "other": "other",
}


def given_features(raw: str) -> tuple[str | None, str | None, list[str] | None]:
    """First given name folded, its canonical Welsh/English form, and every known variant."""
    tokens = fold(raw).split()
    if not tokens:
        return None, None, None
    token = tokens[0]
    return token, headword(token), list(token_variants(token))


def surname_feature(raw: str) -> str | None:
    """Folded, with spaces and hyphens gone, so "Price-Jones", "Price Jones" and "PRICE JONES" agree."""
    text = fold(raw).replace(" ", "")
    return text or None


SURNAME_KEY_LENGTH = 100  # AgencyRecord.surname_key


def surname_key(raw: str) -> str:
    """The surname as stored for finding candidates online: folding can lengthen a name (the
    ligature "ﬃ" folds to "ffi"), so it is cut to its column, here and in every lookup alike."""
    return (surname_feature(raw) or "")[:SURNAME_KEY_LENGTH]


def parse_date(value: Any) -> date | None:
    """A date given as a ``date``, ISO ``YYYY-MM-DD`` or ``YYYYMMDD``; None when empty.

    Raises ``ValueError`` for anything else, so a caller can name the field and row.
    """
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return date.fromisoformat(text)


def swap_day_month(d: date) -> date | None:
    if d.day > 12 or d.day == d.month:
        return None
    return date(d.year, d.day, d.month)


def postcode_features(raw: str) -> tuple[str | None, str | None, str | None]:
    """Full postcode without spaces, its sector ("CF101") and district ("CF10"); a value that
    is not a UK postcode keeps only its full form."""
    text = "".join(str(raw or "").upper().split())
    if not text:
        return None, None, None
    if not UK_POSTCODE.match(text):
        return text, None, None
    outward, inward = text[:-3], text[-3:]
    return text, outward + inward[0], outward


def identifier(raw: Any) -> str | None:
    text = re.sub(r"[\s\-]", "", str(raw or "")).upper()
    return text or None


def prepare(unique_id: Any, record: dict[str, Any]) -> dict[str, Any]:
    """One row of the prepared table from a record keyed by ``FIELDS`` (missing keys are unknown)."""
    given, canon, variants = given_features(record.get("given_name") or "")
    surname = surname_feature(record.get("surname") or "")
    dob = parse_date(record.get("date_of_birth"))
    swapped = swap_day_month(dob) if dob else None
    postcode, sector, district = postcode_features(record.get("postcode") or "")
    sex = _SEX.get(str(record.get("sex") or "").strip().lower())
    address = fold(record.get("address") or "") or None
    town = fold(record.get("town") or "") or None
    return {
        "unique_id": str(unique_id),
        "given_name": given,
        "given_canon": canon,
        "given_variants": variants,
        "surname": surname,
        "surname_initial": surname[0] if surname else None,
        "dob": dob.isoformat() if dob else None,
        "dob_swapped": swapped.isoformat() if swapped else None,
        "birth_year": str(dob.year) if dob else None,
        # For blocking a date of birth whose year has a slip (1 of its 8 digits in 2 is the year's).
        "birth_month_day": dob.isoformat()[5:] if dob else None,
        "sex": sex,
        "postcode": postcode,
        "postcode_sector": sector,
        "postcode_district": district,
        "address": address,
        "town": town,
        "nhs_number": identifier(record.get("nhs_number")),
        "pupil_number": identifier(record.get("pupil_number")),
        "other_id": identifier(record.get("other_id")),
    }


def to_arrow(rows: list[dict[str, Any]]):
    """The prepared rows as a pyarrow table with fixed types (an all-null column stays text)."""
    import pyarrow as pa

    schema = pa.schema([(c, pa.list_(pa.string())) if c == "given_variants" else (c, pa.string()) for c in COLUMNS])
    return pa.Table.from_pylist(rows, schema=schema)
