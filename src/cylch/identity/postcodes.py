"""The one form in which a household's postcode is stored (docs/identity.md, "Households from
agency addresses").

Households are looked up by postcode with an index (``AddressFinder``), so a home written
"cf10 1aa" by one path and "CF10 1AA" by another was not found, and the hub made it a second
household. Every writer of ``Household.postcode`` goes through ``stored_postcode``, and migration
0009 rewrote the rows held before.
"""

from __future__ import annotations

import re

# A UK postcode with its spaces removed: outward code (A9, A99, AA9, AA99, A9A, AA9A) then
# inward code (a digit and two letters). The outward code's leading letter keeps foreign codes
# whose last three characters happen to be a digit and two letters ("1234 AB") as given.
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def stored_postcode(raw: str | None) -> str:
    """``raw`` as a household stores it: a UK postcode upper case with one space before its
    last three characters ("cf101aa" is "CF10 1AA"); anything else (foreign, partial, nonsense)
    upper case with its whitespace collapsed, never rejected: validation is the forms' job."""
    text = " ".join((raw or "").upper().split())
    compact = text.replace(" ", "")
    if UK_POSTCODE.match(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    return text


def held_forms(compact: str) -> list[str]:
    """Every form in which a household can hold this postcode (``compact``: upper case, spaces
    removed), for looking it up by the index: a UK postcode has one, its stored form; anything
    else keeps its sender's spacing, collapsed, so as given or with one space at any place
    ("1234 AB", "D02 X285"). A form with two spaces is not looked for."""
    if not compact:
        return []
    if UK_POSTCODE.match(compact):
        return [f"{compact[:-3]} {compact[-3:]}"]
    return [compact, *(f"{compact[:i]} {compact[i:]}" for i in range(1, len(compact)))]
