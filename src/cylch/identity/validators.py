"""Checks for the identifiers agencies send: NHS numbers and unique pupil numbers.

Both carry check characters, so a mistyped digit is caught at the door instead of linking a
child's records to the wrong person. Errors name the field and say what is wrong.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_NHS_RE = re.compile(r"^\d{10}$")
# Unique pupil number letters: no I, O or S (DfE/Welsh Government UPN specification).
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_RE = re.compile(rf"^[{UPN_LETTERS}]\d{{11}}[0-9{UPN_LETTERS}]$")


def normalise_nhs_number(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11 check digit, or None when no valid number can start with these nine digits."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def validate_nhs_number(value: str) -> str:
    """Return the normalised NHS number, or raise ``ValidationError`` saying what is wrong."""
    number = normalise_nhs_number(value)
    if not _NHS_RE.match(number):
        raise ValidationError(
            _("An NHS number has 10 digits; “%(value)s” has %(n)d characters after removing spaces.")
            % {"value": value, "n": len(number)},
            code="nhs_format",
        )
    check = nhs_check_digit(number[:9])
    if check is None or check != int(number[9]):
        raise ValidationError(
            _("“%(value)s” is not a valid NHS number: the check digit does not match. Check it for a mistyped digit.")
            % {"value": value},
            code="nhs_check_digit",
        )
    return number


def normalise_upn(value: str) -> str:
    return re.sub(r"\s", "", value or "").upper()


def upn_check_letter(last_twelve: str) -> str:
    """The check letter for characters 2-13 of a UPN (a letter in position 13 marks a temporary UPN)."""
    total = 0
    for weight, ch in enumerate(last_twelve, start=2):
        value = int(ch) if ch.isdigit() else UPN_LETTERS.index(ch)
        total += value * weight
    return UPN_LETTERS[total % 23]


def validate_upn(value: str) -> str:
    """Return the normalised unique pupil number, or raise ``ValidationError``."""
    upn = normalise_upn(value)
    if not _UPN_RE.match(upn):
        raise ValidationError(
            _(
                "A unique pupil number is a check letter followed by 12 characters (11 digits and a final "
                "digit or letter); “%(value)s” is not in that form."
            )
            % {"value": value},
            code="upn_format",
        )
    if upn_check_letter(upn[1:]) != upn[0]:
        raise ValidationError(
            _("“%(value)s” is not a valid unique pupil number: the check letter does not match.") % {"value": value},
            code="upn_check_letter",
        )
    return upn
