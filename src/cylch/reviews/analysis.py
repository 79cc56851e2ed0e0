"""Thematic analysis across coded reviews: the TA's methods on any selection of reviews.

The thematic analysis of Child Practice Reviews in Wales (TA 2023, Methodology and section 1)
coded each review's indicators as *present* or *not known*, then reported frequency tables,
phi coefficients with p-values (Bonferroni adjusted), and multidimensional scaling of the
indicators with significant associations on the Lance and Williams dissimilarity. This module
selects coded reviews, builds the reviews x codes matrix and produces the same tables from
``cylch.insight.stats`` (which is tested against SciPy and scikit-learn). Plain functions: the
pages render what they return (docs/reviews.md, "Thematic analysis and the public repository").

A code stored for a review is *present*; a code not stored is *not known*, never "absent". Age
bands are derived from ``child_age_months`` in both sets of bands of the code book (TA tables
2 and 3), so a review coded once is counted in both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from cylch.access.models import BoardArea
from cylch.core.collation import local_name
from cylch.insight import stats
from cylch.reviews.coding.suggest import Codebook, load_codebook
from cylch.reviews.models import CodedReview, PreviousHistory, ReviewCode

# Below this many reviews the association section says so instead of computing phi and a map:
# the chi-square test behind each p-value is unreliable when the 2x2 tables' expected counts
# are this small, and one or two reviews decide whether two indicators look associated. The TA
# had 33 reviews; 20 is the least at which its method is worth reading.
MIN_REVIEWS_FOR_ASSOCIATIONS = 20
# The TA: "only vulnerabilities which occurred in more than two cases were included".
MIN_PRESENT_FOR_ASSOCIATIONS = 3
ALPHA = 0.05
# A map of two points is a line whatever the data say: at least three indicators.
MIN_INDICATORS_FOR_MAP = 3
# Normalised raw stress up to this is a good fit (Stalans 1995, as the TA reads it).
GOOD_FIT_STRESS = 0.15

YEAR_BASES = ("incident", "published")
# What the Bonferroni adjustment counts as the number of tests (``associations``).
ADJUSTMENTS = ("pairs", "indicators")
# The groups counted as "present / not known" indicators, in the order the page shows them,
# with the TA figure or table each reproduces.
INDICATOR_GROUPS = (
    ("parent", ("figure", 3)),
    ("child", ("figure", 4)),
    ("harm", ("table", 1)),
    ("agency", ("figure", 7)),
    ("finding", ("figure", 8)),
    ("theme", ("table", 6)),
)
ASSOCIATION_GROUPS = ("parent", "child")
# Groups that are what the reviews learnt rather than what agencies knew (the page's reading).
LEARNING_GROUPS = ("finding", "theme")


def _lang() -> str:
    return "cy" if (get_language() or "en").startswith("cy") else "en"


def source(kind: str, number: int) -> str:
    """Where in the TA a table comes from, in the current language."""
    if kind == "figure":
        return _("TA figure %(n)s") % {"n": number}
    return _("TA table %(n)s") % {"n": number}


# --- selection -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which coded reviews to analyse. Empty tuples mean "all"; years are inclusive and read
    from the incident date or the publication date (``year_basis``); a review without that date
    is left out once a year is given, since it cannot be placed."""

    boards: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    year_basis: str = "incident"
    include_excluded: bool = False
    # Only reviews recorded with this code (an indicator, harm, agency, finding or theme), and
    # only children of this age band (either set): the TA's own comparisons, such as the babies
    # under one or the reviews where parental mental health was known, are selections like these.
    code: str = ""
    age_band: str = ""

    def __post_init__(self) -> None:
        if self.year_basis not in YEAR_BASES:
            raise ValueError(f"year_basis must be one of {YEAR_BASES}, not {self.year_basis!r}")


def select(filters: Filters = Filters()) -> QuerySet[CodedReview]:
    """The coded reviews matching ``filters``, with their board and codes fetched (3 queries).

    Reviews marked ``excluded`` (e.g. historical abuse reported as an adult, TA table 5 note)
    are left out unless ``include_excluded``."""
    qs = CodedReview.objects.select_related("board_area").prefetch_related("codes")
    if not filters.include_excluded:
        qs = qs.filter(excluded=False)
    if filters.boards:
        qs = qs.filter(board_area__code__in=filters.boards)
    if filters.types:
        qs = qs.filter(type__in=filters.types)
    field_name = "incident_on" if filters.year_basis == "incident" else "published_on"
    if filters.year_from is not None:
        qs = qs.filter(**{f"{field_name}__gte": date(filters.year_from, 1, 1)})
    if filters.year_to is not None:
        qs = qs.filter(**{f"{field_name}__lte": date(filters.year_to, 12, 31)})
    if filters.code:
        qs = qs.filter(pk__in=ReviewCode.objects.filter(code=filters.code).values("coded_review"))
    if filters.age_band:
        band = _band(filters.age_band)
        low, high = band["months"] if band else (0, 0)
        # The age in months decides; a stored band counts only when the age is not known (as
        # ``with_age_bands``).
        qs = qs.filter(
            Q(child_age_months__gte=low, child_age_months__lt=high)
            | Q(child_age_months__isnull=True,
                pk__in=ReviewCode.objects.filter(code=filters.age_band).values("coded_review"))
        )  # fmt: skip
    return qs.order_by("board_area__name_en", "reference")


def _band(band_id: str) -> dict | None:
    for bands in load_codebook().age_bands.values():
        for band in bands:
            if band["id"] == band_id:
                return band
    return None


def may_list(review: CodedReview, viewer_area: BoardArea | None) -> bool:
    """Whether a board member may see a coded review listed by name: their own board's and any
    published one; a member of the national board (``viewer_area`` None) sees all. The others
    in a selection are counted in the figures, never listed."""
    return viewer_area is None or review.board_area_id == viewer_area.pk or review.is_public


# --- codes and the matrix ------------------------------------------------------------------


def age_band(months: int | None, scheme: str, codebook: Codebook | None = None) -> str | None:
    """The band id of ``scheme`` ("age" Welsh, "age_panel" the English panel's) holding an age
    in months, or None when the age is not known or falls outside every band."""
    if months is None:
        return None
    book = codebook or load_codebook()
    for band in book.age_bands[scheme]:
        low, high = band["months"]
        if low <= months < high:
            return band["id"]
    return None


def with_age_bands(stored: Iterable[str], months: int | None, codebook: Codebook | None = None) -> frozenset[str]:
    """The codes present: those stored, with the age bands of both sets taken from the age in
    months when it is known (replacing any stored band), and otherwise the stored band of each
    set, if the coder gave one (an age the review states only as "a baby", say)."""
    book = codebook or load_codebook()
    present = set(stored)
    if months is not None:
        bands = {band["id"] for scheme in book.age_bands.values() for band in scheme}
        present -= bands
        for scheme in book.age_bands:
            band = age_band(months, scheme, book)
            if band:
                present.add(band)
    return frozenset(present)


def codes_of(review: CodedReview, codebook: Codebook | None = None) -> frozenset[str]:
    """The codes present in a review, with its age bands (``with_age_bands``). Uses the
    prefetched codes (no query per review)."""
    return with_age_bands((c.code for c in review.codes.all()), review.child_age_months, codebook)


def band_of(present: frozenset[str], scheme: str, codebook: Codebook | None = None) -> str | None:
    """The one band of ``scheme`` among the codes present, or None (not known)."""
    book = codebook or load_codebook()
    return next((band["id"] for band in book.age_bands[scheme] if band["id"] in present), None)


def matrix(code_sets: Sequence[frozenset[str]], code_ids: Sequence[str]) -> np.ndarray:
    """The binary table: one row per review, one column per code, 1 present and 0 not known."""
    table = np.zeros((len(code_sets), len(code_ids)), dtype=np.int8)
    for i, present in enumerate(code_sets):
        for j, code in enumerate(code_ids):
            if code in present:
                table[i, j] = 1
    return table


def group_codes(group: str, codebook: Codebook | None = None) -> list[str]:
    """The code ids of one code-book group, in the code book's order."""
    book = codebook or load_codebook()
    return [c.id for c in book.codes if c.group == group]


def group_label(group: str, codebook: Codebook | None = None) -> str:
    book = codebook or load_codebook()
    return book.groups[group]["label"][_lang()]


def code_label(code_id: str, codebook: Codebook | None = None) -> str:
    """A code's label in the current language; the id itself if the code book no longer has it."""
    book = codebook or load_codebook()
    try:
        return book.label(code_id, _lang())
    except KeyError:
        return code_id


# --- frequency tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a table. ``percent`` is of every selected review; ``valid_percent`` (tables
    with one value per review) of those where the value is known, and None on the not known row."""

    key: str
    label: str
    count: int
    percent: float
    valid_percent: float | None = None


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    source: str  # where in the TA, in words
    rows: list[Row]
    reviews: int
    one_per_review: bool  # True: each review has one value (age, history); False: indicators
    reading: list[str] = field(default_factory=list)

    @property
    def not_known(self) -> int:
        return sum(r.count for r in self.rows if r.key == "not_known")


def _pct(count: int, of: int) -> float:
    return 100.0 * count / of if of else 0.0


def _fmt_pct(value: float) -> str:
    return f"{value:.1f}%"


def indicator_table(group: str, code_sets: Sequence[frozenset[str]], where: tuple[str, int]) -> Table:
    """Counts of each code of a group over the reviews, most frequent first (TA figures 3, 4, 7,
    8 and table 6). For harm (TA table 1) a last row counts the reviews with no harm coded."""
    book = load_codebook()
    n = len(code_sets)
    ids = group_codes(group, book)
    counts = Counter(code for present in code_sets for code in present if code in ids)
    order = {code: i for i, code in enumerate(ids)}
    rows = [Row(code, code_label(code, book), counts[code], _pct(counts[code], n)) for code in ids]
    rows.sort(key=lambda r: (-r.count, order[r.key]))
    if group == "harm":
        unknown = sum(1 for present in code_sets if not any(code in present for code in ids))
        rows.append(Row("not_known", _("Not known"), unknown, _pct(unknown, n)))
    table = Table(group, group_label(group, book), source(*where), rows, n, one_per_review=False)
    return replace(table, reading=_read_indicators(table))


def _read_indicators(table: Table) -> list[str]:
    if table.reviews == 0:
        return [_("No reviews are selected.")]
    recorded = [r for r in table.rows if r.key != "not_known" and r.count]
    if not recorded:
        return [_("None of these was recorded in the selected reviews.")]
    top = recorded[:3]
    named = ", ".join(
        _("%(label)s (%(count)s of %(n)s reviews, %(percent)s)")
        % {"label": r.label, "count": r.count, "n": table.reviews, "percent": _fmt_pct(r.percent)}
        for r in top
    )
    out = [_("Most often recorded: %(named)s.") % {"named": named}]
    absent = [r.label for r in table.rows if r.key != "not_known" and not r.count]
    if absent:
        out.append(_("Not recorded in any selected review: %(labels)s.") % {"labels": ", ".join(absent)})
    if table.key in LEARNING_GROUPS:
        out.append(
            _(
                "A review that does not name a lesson leaves it not known, not absent: these are the "
                "lessons the reviews drew, in their own words."
            )
        )
    else:
        out.append(
            _(
                "A review that does not record something leaves it not known, not absent: these are the "
                "things agencies knew, as the reviews tell it."
            )
        )
    return out


def _one_value_table(
    key: str,
    title: str,
    where: str,
    values: list[str | None],
    order: list[tuple[str, str]],
    *,
    by_count: bool,
) -> Table:
    """A table of one value per review (``None``: not known), from ``stats.frequencies``."""
    n = len(values)
    freq = stats.frequencies(values, missing=(None,))
    counted = {r.value: r for r in freq.rows}
    rows = []
    for value, label in order:
        r = counted.get(value)
        rows.append(Row(value, label, r.count if r else 0, r.percent if r else 0.0, r.valid_percent if r else 0.0))
    if by_count:
        position = {value: i for i, (value, _label) in enumerate(order)}
        rows.sort(key=lambda r: (-r.count, position[r.key]))
    rows.append(Row("not_known", _("Not known"), freq.missing, _pct(freq.missing, n), None))
    table = Table(key, title, where, rows, n, one_per_review=True)
    return replace(table, reading=_read_one_value(table))


def _read_one_value(table: Table) -> list[str]:
    if table.reviews == 0:
        return [_("No reviews are selected.")]
    known = [r for r in table.rows if r.key != "not_known"]
    top = max(known, key=lambda r: r.count, default=None)
    out = []
    if top is not None and top.count:
        out.append(
            _("The largest group: %(label)s, %(count)s of %(n)s reviews (%(percent)s).")
            % {"label": top.label, "count": top.count, "n": table.reviews, "percent": _fmt_pct(top.percent)}
        )
    if table.not_known:
        out.append(
            ngettext(
                "Not known in %(count)s review: valid percent leaves it out.",
                "Not known in %(count)s reviews: valid percent leaves them out.",
                table.not_known,
            )
            % {"count": table.not_known}
        )
    return out


def age_table(scheme: str, code_sets: Sequence[frozenset[str]]) -> Table:
    """The child's age band (TA table 2 for ``age``, table 3 for ``age_panel``), in band order."""
    book = load_codebook()
    order = [(band["id"], band["label"][_lang()]) for band in book.age_bands[scheme]]
    values = [band_of(present, scheme, book) for present in code_sets]
    where = source("table", 2 if scheme == "age" else 3)
    return _one_value_table(scheme, group_label(scheme, book), where, values, order, by_count=False)


def history_table(reviews: Sequence[CodedReview]) -> Table:
    """The child's previous children's services history (TA table 5), most frequent first."""
    order = [(value, str(label)) for value, label in PreviousHistory.choices if value != PreviousHistory.NOT_KNOWN]
    values = [None if r.previous_history == PreviousHistory.NOT_KNOWN else r.previous_history for r in reviews]
    return _one_value_table(
        "history", _("Previous children's services history"), source("table", 5), values, order, by_count=True
    )


def board_table(reviews: Sequence[CodedReview]) -> Table:
    """Reviews per board area (TA figure 2): every board, so a board with none shows 0."""
    lang = _lang()
    order = [(b.code, board_name(b, lang)) for b in BoardArea.objects.all()]
    values = [r.board_area.code for r in reviews]
    table = _one_value_table("boards", _("Reviews by board area"), source("figure", 2), values, order, by_count=False)
    rows = [r for r in table.rows if r.key != "not_known"]  # every review has a board
    return replace(table, rows=rows, reading=_read_one_value(replace(table, rows=rows)))


def board_name(area: BoardArea, lang: str | None = None) -> str:
    return local_name(area, lang or _lang())


# --- associations: phi and the map ---------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    a_label: str
    b_label: str
    phi: float | None
    p: float | None
    p_adjusted: float | None
    significant: bool  # adjusted p below ALPHA

    @property
    def stars(self) -> str:
        """The TA's table 4 marks: * p < .05, ** p < .01, *** significant after adjustment."""
        if self.significant:
            return "***"
        if self.p is not None and self.p < 0.01:
            return "**"
        if self.p is not None and self.p < ALPHA:
            return "*"
        return ""

    @property
    def strength(self) -> str:
        return phi_strength(self.phi)

    @property
    def phi_text(self) -> str:
        if self.phi is None:
            return ""
        text = f"{self.phi:.2f}"
        return "0.00" if text == "-0.00" else text

    @property
    def p_text(self) -> str:
        return format_p(self.p)

    @property
    def p_adjusted_text(self) -> str:
        return format_p(self.p_adjusted)


def format_p(p: float | None) -> str:
    """A p-value as a table shows it: three decimals, "< 0.001" below that, blank if undefined."""
    if p is None:
        return ""
    return "<\u00a00.001" if p < 0.001 else f"{p:.3f}"  # no break between the sign and the number


def phi_strength(value: float | None) -> str:
    """The TA's words: .7 or more very strong, .4-.69 strong, .3-.39 moderate; negative ones too."""
    if value is None:
        return _("cannot be computed")
    size = abs(value)
    if size >= 0.7:
        words = _("very strong")
    elif size >= 0.4:
        words = _("strong")
    elif size >= 0.3:
        words = _("moderate")
    else:
        words = _("weak")
    return words if value >= 0 else _("%(strength)s, negative") % {"strength": words}


@dataclass(frozen=True)
class Point:
    key: str
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Map:
    """A two-dimensional MDS solution of the indicators with significant associations."""

    points: list[Point]
    stress: float
    good_fit: bool
    reading: list[str]


@dataclass(frozen=True)
class Associations:
    key: str
    title: str
    reviews: int
    enough: bool
    reason: str  # why phi or the map were not computed, in words; "" when they were
    indicators: list[tuple[str, str]] = field(default_factory=list)  # (id, label), in the analysis
    left_out: list[tuple[str, str, int]] = field(default_factory=list)  # too rare: (id, label, count)
    pairs: list[Pair] = field(default_factory=list)
    tests: int = 0  # what each p-value was multiplied by (pairs tested, or indicators)
    threshold: float = 0.0  # the unadjusted p below which a pair is significant after adjustment
    adjustment: str = ""
    reading: list[str] = field(default_factory=list)
    map: Map | None = None
    map_reason: str = ""

    @property
    def significant(self) -> list[Pair]:
        return sorted((p for p in self.pairs if p.significant), key=lambda p: -abs(p.phi or 0))

    def cell(self, a: str, b: str) -> Pair | None:
        for pair in self.pairs:
            if {pair.a, pair.b} == {a, b}:
                return pair
        return None

    @property
    def grid(self) -> list[tuple[tuple[str, str], list[Pair | None]]]:
        """The matrix as rows for a table (TA table 4): the diagonal and the unknown are None."""
        return [
            ((a, la), [self.cell(a, b) if a != b else None for b, _lb in self.indicators]) for a, la in self.indicators
        ]


def associations(group: str, code_sets: Sequence[frozenset[str]], *, adjustment: str = "pairs") -> Associations:
    """Phi for every pair of the group's indicators present in three or more reviews, with p and
    the Bonferroni-adjusted p; then the MDS map of those with at least one significant pair.

    Bonferroni: each p is multiplied by the number of tests and capped at 1; a pair is
    significant when the adjusted p is below .05. ``adjustment`` "pairs" counts every pair
    tested, k(k-1)/2 for k indicators (the usual family); "indicators" counts k, which is what
    the TA's thresholds amount to (docs/insight-stats.md, "Bonferroni"), and is less strict."""
    if adjustment not in ADJUSTMENTS:
        raise ValueError(f"adjustment must be one of {ADJUSTMENTS}, not {adjustment!r}")
    book = load_codebook()
    n = len(code_sets)
    title = group_label(group, book)
    if n < MIN_REVIEWS_FOR_ASSOCIATIONS:
        reason = ngettext(
            "Only %(n)s review is selected. Associations between indicators need at least %(min)s: with "
            "fewer, the chi-square test behind each p-value is unreliable and one or two reviews decide "
            "whether two indicators look associated. Widen the selection.",
            "Only %(n)s reviews are selected. Associations between indicators need at least %(min)s: with "
            "fewer, the chi-square test behind each p-value is unreliable and one or two reviews decide "
            "whether two indicators look associated. Widen the selection.",
            n,
        ) % {"n": n, "min": MIN_REVIEWS_FOR_ASSOCIATIONS}
        return Associations(group, title, n, enough=False, reason=reason)

    ids = group_codes(group, book)
    counts = matrix(code_sets, ids).sum(axis=0)
    included = [(c, code_label(c, book)) for c, k in zip(ids, counts, strict=True) if k >= MIN_PRESENT_FOR_ASSOCIATIONS]
    left_out = [
        (c, code_label(c, book), int(k)) for c, k in zip(ids, counts, strict=True) if k < MIN_PRESENT_FOR_ASSOCIATIONS
    ]
    if len(included) < 2:
        reason = _(
            "Fewer than two of these indicators are recorded in three or more of the selected reviews, "
            "so there is no pair to test (the TA left out indicators recorded in two reviews or fewer)."
        )
        return Associations(group, title, n, enough=False, reason=reason, indicators=included, left_out=left_out)

    keys = [c for c, _label in included]
    labels = dict(included)
    table = matrix(code_sets, keys)
    raw = stats.phi_matrix(table, keys)
    tests = len(raw) if adjustment == "pairs" else len(keys)
    adjusted = stats.phi_matrix(table, keys, bonferroni=True, tests=tests)
    pairs = [
        Pair(r.a, r.b, labels[r.a], labels[r.b], r.phi, r.p, a.p, a.p is not None and a.p < ALPHA)
        for r, a in zip(raw, adjusted, strict=True)
    ]
    threshold = ALPHA / tests
    if adjustment == "pairs":
        words = _(
            "Bonferroni adjustment: each p-value is multiplied by the %(tests)s pairs tested and capped at 1. "
            "A pair is significant when the adjusted p-value is below 0.05, that is when the unadjusted "
            "p-value is below %(threshold)s."
        ) % {"tests": tests, "threshold": f"{threshold:.2g}"}
    else:
        words = _(
            "Bonferroni adjustment as the TA made it: each p-value is multiplied by the number of indicators, "
            "%(tests)s, not by the %(pairs)s pairs tested (which is stricter), and capped at 1. A pair is "
            "significant when the adjusted p-value is below 0.05, that is when the unadjusted p-value is "
            "below %(threshold)s."
        ) % {"tests": tests, "pairs": len(raw), "threshold": f"{threshold:.2g}"}
    result = Associations(
        group, title, n, enough=True, reason="", indicators=included, left_out=left_out, pairs=pairs,
        tests=tests, threshold=threshold, adjustment=words,
    )  # fmt: skip
    the_map, map_reason = _map(result, code_sets)
    return replace(result, reading=_read_pairs(result), map=the_map, map_reason=map_reason)


def _read_pairs(result: Associations) -> list[str]:
    significant = result.significant
    out = [
        ngettext(
            "%(count)s of %(tests)s pairs is significantly associated after adjustment.",
            "%(count)s of %(tests)s pairs are significantly associated after adjustment.",
            len(result.pairs),
        )
        % {"count": len(significant), "tests": len(result.pairs)}
    ]
    if significant:
        best = significant[0]
        out.append(
            _("The strongest: %(a)s with %(b)s (phi %(phi)s, %(strength)s).")
            % {"a": best.a_label, "b": best.b_label, "phi": f"{best.phi:.2f}", "strength": best.strength}
        )
    out.append(
        _(
            "Phi is 1 when two indicators are recorded in exactly the same reviews and 0 when they are "
            "unrelated. An association says they are recorded together, not that one causes the other."
        )
    )
    return out


def _map(result: Associations, code_sets: Sequence[frozenset[str]]) -> tuple[Map | None, str]:
    """MDS of the indicators with at least one significant association (TA: "only vulnerabilities
    which had significant Phi-coefficients"), on the Lance and Williams dissimilarity."""
    keys = [c for c, _label in result.indicators if any(p.significant and c in (p.a, p.b) for p in result.pairs)]
    if len(keys) < MIN_INDICATORS_FOR_MAP:
        return None, ngettext(
            "No map: only %(count)s indicator has a significant association, and a map needs at least %(min)s.",
            "No map: only %(count)s indicators have a significant association, and a map needs at least %(min)s.",
            len(keys),
        ) % {"count": len(keys), "min": MIN_INDICATORS_FOR_MAP}
    labels = dict(result.indicators)
    dissimilarity = stats.lance_williams(matrix(code_sets, keys))
    solution = stats.mds(dissimilarity, dims=2, seed=0)
    points = [
        Point(key, labels[key], float(x), float(y)) for key, (x, y) in zip(keys, solution.coordinates, strict=True)
    ]
    good = solution.stress <= GOOD_FIT_STRESS
    reading = [
        _(
            "%(count)s indicators with at least one significant association, placed so that those recorded "
            "in the same reviews are close together and those rarely recorded together are far apart "
            "(Lance and Williams dissimilarity, which ignores reviews where neither is recorded)."
        )
        % {"count": len(points)},
        (
            _("Normalised raw stress %(stress)s: a good fit (0 to 0.15 is good, Stalans 1995).")
            if good
            else _("Normalised raw stress %(stress)s: a poor fit (above 0.15), so read distances with caution.")
        )
        % {"stress": f"{solution.stress:.3f}"},
        _("The directions mean nothing in themselves: only the distances between indicators do."),
    ]
    return Map(points, float(solution.stress), good, reading), ""


# --- everything at once --------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    filters: Filters
    reviews: int
    by_type: list[tuple[str, int]]
    boards: Table
    indicators: list[Table]
    age: Table
    age_panel: Table
    history: Table
    associations: list[Associations]


def analyse(reviews: Iterable[CodedReview], filters: Filters = Filters(), *, adjustment: str = "pairs") -> Analysis:
    """Every table, phi matrix and map for a selection (``select(filters)``), in the current
    language. The reviews should come with their codes prefetched, as ``select`` does."""
    from cylch.reviews.services import config, type_label

    reviews = list(reviews)
    code_sets = [codes_of(r) for r in reviews]
    types = Counter(r.type for r in reviews)
    known_types = config()["types"]
    by_type = [(type_label(t) if t in known_types else t, k) for t, k in sorted(types.items(), key=lambda i: -i[1])]
    return Analysis(
        filters=filters,
        reviews=len(reviews),
        by_type=by_type,
        boards=board_table(reviews),
        indicators=[indicator_table(group, code_sets, where) for group, where in INDICATOR_GROUPS],
        age=age_table("age", code_sets),
        age_panel=age_table("age_panel", code_sets),
        history=history_table(reviews),
        associations=[associations(group, code_sets, adjustment=adjustment) for group in ASSOCIATION_GROUPS],
    )


# --- the test and demo data builder ----------------------------------------------------------


@transaction.atomic
def build_coded_review(
    *,
    board_area: BoardArea,
    reference: str,
    codes: Iterable[str] = (),
    type: str = "cpr_concise",  # the model's field name
    title: str = "",
    **fields,
) -> CodedReview:
    """A coded review with its codes, for tests and the demo's fictional reviews (not a page's
    write: coding through the pages goes through the coding services). Unknown code ids are
    refused, so a typo cannot become a code that no table counts."""
    book = load_codebook()
    codes = list(dict.fromkeys(codes))
    unknown = [c for c in codes if c not in book.ids]
    if unknown:
        raise ValueError(f"not in the code book: {', '.join(unknown)}")
    review = CodedReview.objects.create(
        board_area=board_area, reference=reference, type=type, title=title or reference, **fields
    )
    ReviewCode.objects.bulk_create([ReviewCode(coded_review=review, code=c) for c in codes])
    return review
