"""The event codes identity puts on the spine, registered in the taxonomy at start-up.

A reviewer's decision about a child's family (which of three "mothers" is right, which was
recorded in error) is part of the child's story: the chronology shows who decided, when and
why. Recorded as ``special``: parentage can reveal an adoption, so the reasons are for
children's services, and other agencies see only that a review happened (docs/access.md).
"""

from __future__ import annotations

from jsonschema import Draft202012Validator

from cylch.core import taxonomy

FAMILY_REVIEWED = "process.family.relationships_reviewed"
# Two households found to be one home, and that undone (identity/households/merge.py): on the home's
# chronology, with who decided and why.
HOUSEHOLD_MERGED = "process.household.merged"
HOUSEHOLD_SEPARATED = "process.household.merge_undone"
_NO_DETAILS = {"type": "object", "additionalProperties": False, "properties": {}}

CODES = {
    FAMILY_REVIEWED: ("Family relationships reviewed", "Perthnasoedd teuluol wedi'u hadolygu"),
    HOUSEHOLD_MERGED: ("Two households recorded as one home", "Dwy aelwyd wedi'u cofnodi fel un cartref"),
    HOUSEHOLD_SEPARATED: (
        "Households no longer recorded as one home",
        "Aelwydydd heb eu cofnodi fel un cartref mwyach",
    ),
}


def register() -> None:
    """Declare the codes (idempotent: Django may call ``ready`` more than once in tests)."""
    for code, (label_en, label_cy) in CODES.items():
        if taxonomy.get(code) is None:
            taxonomy.register(
                taxonomy.EventCode(
                    code=code, domain="process", label_en=label_en, label_cy=label_cy, sensitivity="special",
                    subject="any", recorded_by=("la_childrens_services",), soft=False, details_schema=_NO_DETAILS,
                    validator=Draft202012Validator(_NO_DETAILS),
                )
            )  # fmt: skip
