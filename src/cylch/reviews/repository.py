"""The public repository of published reviews (issue 9 item 9): reads only.

Rees et al. and the TA found that a review's learning is hard to find once its 12-week
publication window on the board's website has passed. Anyone may search here, without signing
in, so these selectors are the whole boundary between the public and the coded-review table:

- only entries with ``is_public`` are ever read;
- what leaves this module is a ``PublicEntry`` holding the public fields alone (no model
  instance), so a template cannot follow ``review`` to the referral and its child;
- an entry's incident is given by year only, its child by age band only, never gender or age.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import get_language, gettext_lazy

from cylch.reviews.analysis import board_name, code_label, with_age_bands
from cylch.reviews.coding.suggest import load_codebook
from cylch.reviews.models import CodedReview, ReviewCode

PAGE_SIZE = 10
MAX_WORDS = 8
# The groups a member of the public can search by: risk indicators (and harm) in one list,
# learning themes in another (code-book order); age bands in both sets.
INDICATOR_GROUPS = ("parent", "child", "harm")
THEME_GROUPS = ("theme", "finding")
# The order an entry's codes are shown in.
ENTRY_GROUPS = ("harm", "parent", "child", "agency", "theme", "finding", "age", "age_panel")
# The code book's group names are the analysts' (TA) words; the public pages use plainer ones.
PUBLIC_GROUP_LABELS = {
    "harm": gettext_lazy("What happened to the child"),
    "parent": gettext_lazy("Worries about the parents or carers"),
    "child": gettext_lazy("The child's own needs and experiences"),
    "agency": gettext_lazy("Services that knew the child or family"),
    "theme": gettext_lazy("What services can learn"),
    "finding": gettext_lazy("What the reviews recommend looking at"),
    "age": gettext_lazy("Age of the child (bands used in Wales)"),
    "age_panel": gettext_lazy("Age of the child (bands used in England)"),
}
PUBLIC_FIELDS = ("public_id", "reference", "type", "title", "board_area", "incident_on", "signed_off_on",
                 "published_on", "child_age_months", "public_summary", "public_summary_cy", "public_text")  # fmt: skip


@dataclass(frozen=True)
class Query:
    """A search: words (each must appear in the title, summary or published text), and at most
    one of each filter. ``age_band`` is a band id of either set (``age.*`` or ``age_panel.*``)."""

    text: str = ""
    theme: str = ""
    indicator: str = ""
    age_band: str = ""
    board: str = ""
    year: int | None = None

    @property
    def words(self) -> list[str]:
        return self.text.split()[:MAX_WORDS]


@dataclass(frozen=True)
class CodeGroup:
    key: str
    label: str
    codes: list[str]  # labels, in the current language


@dataclass(frozen=True)
class PublicEntry:
    """What the public may read of a published review; nothing else is put here."""

    public_id: UUID
    reference: str
    title: str
    type_label: str
    board: str
    summary: str
    summary_borrowed: bool  # a Welsh page showing the English summary: marked as English
    text: str
    published_on: date | None
    signed_off_on: date | None
    incident_year: int | None
    groups: list[CodeGroup]


def published() -> QuerySet[CodedReview]:
    """Every published entry, newest first; only the public columns are loaded."""
    return (
        CodedReview.objects.filter(is_public=True)
        .select_related("board_area")
        .only(*PUBLIC_FIELDS, "board_area__code", "board_area__name_en", "board_area__name_cy")
        .order_by("-published_on", "reference", "pk")
    )


def _band_q(band_id: str) -> Q:
    book = load_codebook()
    for bands in book.age_bands.values():
        for band in bands:
            if band["id"] == band_id:
                low, high = band["months"]
                # The age when it is known; otherwise the band the coder gave (analysis.with_age_bands).
                coded_band = ReviewCode.objects.filter(code=band_id).values("coded_review")
                return Q(child_age_months__gte=low, child_age_months__lt=high) | Q(
                    child_age_months__isnull=True, pk__in=coded_band
                )
    return Q(pk__in=[])  # an unknown band matches nothing


def _filtered(query: Query, *, leave_out: str = "") -> QuerySet[CodedReview]:
    """``published()`` narrowed by the query; ``leave_out`` names one filter not to apply, for
    that filter's own counts (how many entries each of its choices would give)."""
    qs = published()
    for word in query.words:
        qs = qs.filter(
            Q(title__icontains=word)
            | Q(public_summary__icontains=word)
            | Q(public_summary_cy__icontains=word)
            | Q(public_text__icontains=word)
        )
    if query.theme and leave_out != "theme":
        qs = qs.filter(codes__code=query.theme)
    if query.indicator and leave_out != "indicator":
        qs = qs.filter(codes__code=query.indicator)
    if query.age_band and leave_out != "age_band":
        qs = qs.filter(_band_q(query.age_band))
    if query.board and leave_out != "board":
        qs = qs.filter(board_area__code=query.board)
    if query.year and leave_out != "year":
        qs = qs.filter(published_on__year=query.year)
    return qs


def search(query: Query) -> QuerySet[CodedReview]:
    """The published entries matching ``query``, newest first. Turn them into ``PublicEntry``
    with ``entries`` before they reach a template."""
    return _filtered(query)


def facet_counts(query: Query) -> dict[str, Counter]:
    """For each filter, how many entries each of its choices would give with the other filters
    and the words applied (so a choice never promises entries that are not there)."""
    out: dict[str, Counter] = {}
    for name in ("theme", "indicator"):
        ids = _filterable_codes(THEME_GROUPS if name == "theme" else INDICATOR_GROUPS)
        rows = (
            ReviewCode.objects.filter(coded_review__in=_filtered(query, leave_out=name).values("pk"), code__in=ids)
            .values_list("code", flat=True)
        )  # fmt: skip
        out[name] = Counter(rows)
    bands = [b["id"] for scheme in load_codebook().age_bands.values() for b in scheme]
    aged = _filtered(query, leave_out="age_band")
    stored: dict[int, set[str]] = {}
    for review_id, code in ReviewCode.objects.filter(coded_review__in=aged.values("pk"), code__in=bands).values_list(
        "coded_review_id", "code"
    ):
        stored.setdefault(review_id, set()).add(code)
    out["age_band"] = Counter(
        code
        for pk, months in aged.values_list("pk", "child_age_months")
        for code in with_age_bands(stored.get(pk, ()), months)
    )
    out["board"] = Counter(_filtered(query, leave_out="board").values_list("board_area__code", flat=True))
    years = _filtered(query, leave_out="year").exclude(published_on=None).values_list("published_on", flat=True)
    out["year"] = Counter(d.year for d in years)
    return out


def _filterable_codes(groups: tuple[str, ...]) -> list[str]:
    return [c.id for c in load_codebook().codes if c.group in groups]


def filter_choices(groups: tuple[str, ...]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group label, [(code id, label)]) for a grouped select, in code-book order."""
    book = load_codebook()
    return [
        (str(PUBLIC_GROUP_LABELS[g]), [(c.id, code_label(c.id, book)) for c in book.codes if c.group == g])
        for g in groups
    ]


def age_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    book = load_codebook()
    return [
        (str(PUBLIC_GROUP_LABELS[scheme]), [(b["id"], code_label(b["id"], book)) for b in bands])
        for scheme, bands in book.age_bands.items()
    ]


def years() -> list[int]:
    """The publication years that have a published entry, newest first."""
    dates = published().exclude(published_on=None).values_list("published_on", flat=True)
    return sorted({d.year for d in dates}, reverse=True)


def _groups(codes: set[str], months: int | None) -> list[CodeGroup]:
    book = load_codebook()
    present = with_age_bands(codes, months, book)
    out = []
    for group in ENTRY_GROUPS:
        if group in book.age_bands:
            ids = [b["id"] for b in book.age_bands[group]]
        else:
            ids = [c.id for c in book.codes if c.group == group]
        labels = [code_label(c, book) for c in ids if c in present]
        if labels:
            out.append(CodeGroup(group, str(PUBLIC_GROUP_LABELS[group]), labels))
    return out


def entries(reviews: QuerySet[CodedReview] | list[CodedReview]) -> list[PublicEntry]:
    """Public entries for a page of results: one more query for all their codes."""
    from cylch.reviews.services import config, type_label

    reviews = list(reviews)
    codes: dict[int, set[str]] = {r.pk: set() for r in reviews}
    for review_id, code in ReviewCode.objects.filter(coded_review__in=[r.pk for r in reviews]).values_list(
        "coded_review_id", "code"
    ):
        codes[review_id].add(code)
    known = config()["types"]
    welsh = get_language() == "cy"
    return [
        PublicEntry(
            public_id=r.public_id,
            reference=r.reference,
            title=r.title,
            type_label=type_label(r.type) if r.type in known else r.type,
            board=board_name(r.board_area),
            summary=summary,
            summary_borrowed=borrowed,
            text=r.public_text,
            published_on=r.published_on,
            signed_off_on=r.signed_off_on,
            incident_year=r.incident_on.year if r.incident_on else None,
            groups=_groups(codes[r.pk], r.child_age_months),
        )
        for r in reviews
        for summary, borrowed in [_summary(r, welsh)]
    ]


def _summary(review: CodedReview, welsh: bool) -> tuple[str, bool]:
    """The summary in the page's language where the board wrote one, else the English, and
    whether that English stands in on a Welsh page."""
    if welsh and review.public_summary_cy.strip():
        return review.public_summary_cy, False
    return review.public_summary, welsh and bool(review.public_summary.strip())


def entry(public_id: UUID) -> PublicEntry:
    """One published entry, or 404: an unpublished one is as absent as one that never was."""
    review = published().filter(public_id=public_id).first()
    if review is None:
        raise Http404
    return entries([review])[0]
