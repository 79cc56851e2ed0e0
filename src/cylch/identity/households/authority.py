"""The local authority of a household the hub makes for an address it does not hold yet.

Until now a new household took the sending organisation's authority: a Cardiff GP's patient
living in the Vale of Glamorgan got a Cardiff household, and the child's alerts went to
Cardiff's front door. There is no postcode-to-authority table offline, but the hub holds
households at most postcodes already, and a full postcode (a street or part of one, about
fifteen addresses) lies in one authority all but a few times in Wales. So the authority of a
new household is that of the live households already held at its full postcode, when they
clearly agree, and the sender's otherwise (docs/identity.md, "Households from agency addresses").

**Clearly agree**: one authority holds more than two thirds of the live households at the
postcode that have one. Not all of them: the households made before this, from the sender's
authority, are exactly the mistakes this corrects, and under unanimity one such mistake at a
postcode would keep every later household there in the sender's authority too. Not a bare
majority either: two to one is what a postcode on a boundary, or two earlier mistakes, can
show honestly, and then the sender's authority (what the hub did before) is no worse a guess.
One household held at the postcode is enough: it is the same street.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db.models import Count

from cylch.access.models import LocalAuthority
from cylch.identity.models import Household
from cylch.identity.postcodes import held_forms
from cylch.identity.services import CHUNK


def compact(postcode: str) -> str:
    """The postcode as households are compared by it: upper case, no spaces (``normalise``)."""
    return re.sub(r"[^A-Z0-9]", "", (postcode or "").upper())


def clear_lead(counts: Counter[int]) -> int | None:
    """The authority (key) holding more than two thirds of ``counts``, or None."""
    if not counts:
        return None
    (lead, n), total = counts.most_common(1)[0], sum(counts.values())
    return lead if 3 * n > 2 * total else None


def authorities_among(households: Iterable[Household]) -> dict[str, LocalAuthority]:
    """From households already read (``local_authority`` selected, as ``AddressFinder`` reads
    them), each compact postcode's authority where the live households there clearly agree.
    No queries: what a caller that has the households at hand uses."""
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    authorities: dict[int, LocalAuthority] = {}
    for h in households:
        code = compact(h.postcode)
        if h.merged_into_id is not None or h.local_authority_id is None or not code:
            continue  # a merged household is counted in the home it was merged into
        counts[code][h.local_authority_id] += 1
        authorities[h.local_authority_id] = h.local_authority
    out = {}
    for code, by_authority in counts.items():
        lead = clear_lead(by_authority)
        if lead is not None:
            out[code] = authorities[lead]
    return out


def authorities_for(postcodes: Iterable[str]) -> dict[str, LocalAuthority]:
    """Each postcode's authority where the live households held at it clearly agree, keyed by
    compact postcode; postcodes without an answer are left out (the caller falls back to the
    sender's). One query per 500 postcodes for the counts and one for the authorities found,
    however many households there are."""
    codes = sorted({c for c in (compact(p) for p in postcodes) if c})
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for i in range(0, len(codes), CHUNK):
        forms = [form for code in codes[i : i + CHUNK] for form in held_forms(code)]
        rows = (
            Household.objects.filter(postcode__in=forms, merged_into__isnull=True, local_authority__isnull=False)
            .values("postcode", "local_authority_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            counts[compact(row["postcode"])][row["local_authority_id"]] += row["n"]
    leads = {code: lead for code, by in counts.items() if (lead := clear_lead(by)) is not None}
    if not leads:
        return {}
    found = LocalAuthority.objects.in_bulk(set(leads.values()))
    return {code: found[lead] for code, lead in leads.items()}


def authority_for(postcode: str, fallback: LocalAuthority | None) -> LocalAuthority | None:
    """The authority of a new household at ``postcode``: that of the live households held at the
    same full postcode when they clearly agree (the module's docstring), else ``fallback`` (the
    sending organisation's, or the report's). Two queries at most; none without a postcode."""
    code = compact(postcode)
    if not code:
        return fallback
    return authorities_for([code]).get(code, fallback)
