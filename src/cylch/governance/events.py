"""The event codes governance puts on the spine, registered in the taxonomy at start-up.

A decision held for a manager's approval, and what became of it, are part of a child's story:
the chronology shows that a "no further action" waited for a manager and who approved or
returned it, beside the decision itself. The codes carry no typed details; the summary says
which decision, and the manager's reasons when there are any.
"""

from __future__ import annotations

from jsonschema import Draft202012Validator

from cylch.core import taxonomy

_WHO = ("la_childrens_services",)
_NO_DETAILS = {"type": "object", "additionalProperties": False, "properties": {}}

CODES = {
    "process.approval.requested": ("Decision sent to a manager for approval", "Penderfyniad wedi'i anfon at reolwr i'w gymeradwyo"),
    "process.approval.approved": ("Decision approved by a manager", "Penderfyniad wedi'i gymeradwyo gan reolwr"),
    "process.approval.returned": ("Decision returned by a manager, with reasons", "Penderfyniad wedi'i ddychwelyd gan reolwr, gyda rhesymau"),
    "process.approval.withdrawn": ("Request for a manager's approval withdrawn", "Cais am gymeradwyaeth rheolwr wedi'i dynnu'n ôl"),
}  # fmt: skip


def register() -> None:
    """Declare the codes (idempotent: Django may call ``ready`` more than once in tests)."""
    for code, (label_en, label_cy) in CODES.items():
        if taxonomy.get(code) is None:
            taxonomy.register(
                taxonomy.EventCode(
                    code=code, domain="process", label_en=label_en, label_cy=label_cy, sensitivity="process",
                    subject="any", recorded_by=_WHO, soft=False, details_schema=_NO_DETAILS,
                    validator=Draft202012Validator(_NO_DETAILS),
                )
            )  # fmt: skip
