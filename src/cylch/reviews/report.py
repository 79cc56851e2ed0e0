"""The review report, structured to the template (``report.yaml``: TA appendix 6 with the
additions of appendix 7), its merged chronology drafted from Cylch's own records, and the
document put together for reading and export.

Sections are edited one at a time, so a panel member on a laptop between meetings loses nothing
to a long form. A section left empty can carry the reason it was left out: the TA asks that an
absence be explained rather than silent (appendix 7.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.access.policy import Sensitivity
from cylch.core import taxonomy
from cylch.core.collation import local_name
from cylch.reviews.models import Recommendation, Review, ReviewReport

TEMPLATE_FILE = Path(__file__).with_name("report.yaml")
DATE_COLUMNS = {("chronology", "date"), ("reviewer_statements", "signed_on")}
MAX_ROWS = 500
# Drafted from the records: entries marked significant and the statutory process; never the
# highly sensitive class, and never free text (the panel writes the account, Cylch only dates it).
CHRONOLOGY_LIMIT = 300


def _lang() -> str:
    return "cy" if (get_language() or "en").startswith("cy") else "en"


@lru_cache(maxsize=1)
def template() -> dict:
    document = yaml.safe_load(TEMPLATE_FILE.read_text(encoding="utf-8"))
    document["by_id"] = {s["id"]: s for s in document["sections"]}
    return document


def section_spec(key: str) -> dict:
    try:
        return template()["by_id"][key]
    except KeyError:
        raise ValidationError({"section": [_("There is no section called %(key)s.") % {"key": key}]}) from None


def report_of(review: Review) -> ReviewReport:
    """The review's report, made if it has none yet: for writes, inside their transaction."""
    report, _created = ReviewReport.objects.get_or_create(review=review)
    return report


def report_read(review: Review) -> ReviewReport:
    """The review's report for reading: an empty, unsaved one if none is held, so that opening a
    page or an export never writes."""
    return ReviewReport.objects.filter(review=review).first() or ReviewReport(review=review)


# Where each language's version of a section is kept: English under the original keys (so
# reports written before the Welsh version existed read as English), Welsh beside it.
TEXT_KEY = {"en": "text", "cy": "text_cy"}
ROWS_KEY = {"en": "rows", "cy": "rows_cy"}
LANGUAGES = ("en", "cy")


def _has(content: dict, language: str) -> bool:
    return bool((content.get(TEXT_KEY[language]) or "").strip()) or any(
        any(c.strip() for c in row) for row in content.get(ROWS_KEY[language]) or []
    )


def is_filled(content: dict) -> bool:
    """Written, in either language."""
    return any(_has(content, language) for language in LANGUAGES)


def written_in(content: dict) -> list[str]:
    """The languages a section is written in ("en", "cy"), for the page's bilingual check."""
    return [language for language in LANGUAGES if _has(content, language)]


def rows_of(content: dict) -> list[list[str]]:
    """A table section's rows for the quality checks: the English version, or the Welsh when
    that is the only one (a panel may write in Welsh first)."""
    return content.get("rows") or content.get("rows_cy") or []


def _parse_date(value: str) -> date | None:
    for fmt in ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


def _clean_rows(key: str, spec: dict, rows: list[list[str]]) -> list[list[str]]:
    columns = spec["columns"]
    errors: list[str] = []
    kept: list[list[str]] = []
    for number, row in enumerate(rows, start=1):
        cells = [(c or "").strip() for c in row][: len(columns)]
        cells += [""] * (len(columns) - len(cells))
        if not any(cells):
            continue  # a blank row is the form's spare row, not data
        for column, value in zip(columns, cells, strict=True):
            if (key, column["id"]) in DATE_COLUMNS and value and _parse_date(value) is None:
                errors.append(
                    _("Row %(row)s, %(column)s: give a date as DD/MM/YYYY.")
                    % {"row": number, "column": column["label"][_lang()]}
                )
        kept.append(cells)
    if len(kept) > MAX_ROWS:
        errors.append(_("A section can hold at most %(n)s rows.") % {"n": MAX_ROWS})
    if errors:
        raise ValidationError({"rows": errors})
    return kept


@transaction.atomic
def section_save(review: Review, *, user: User, key: str, text: str = "", rows: list[list[str]] | None = None,
                 omitted: str = "", language: str = "en") -> ReviewReport:  # fmt: skip
    """Save one language's version of one section (the report is published in English and
    Welsh; the other version is kept). Filled in, any reason for leaving it out goes; empty in
    both languages, it keeps one."""
    spec = section_spec(key)
    if language not in LANGUAGES:
        raise ValidationError({"language": [_("Choose English or Welsh.")]})
    if review.completed_on:
        raise ValidationError(_("The review is signed off: its report can no longer be changed."))
    report = ReviewReport.objects.select_for_update().get(pk=report_of(review).pk)
    content = dict(report.section(key))
    if spec["kind"] == "text":
        content[TEXT_KEY[language]] = (text or "").strip()
    else:
        content[ROWS_KEY[language]] = _clean_rows(key, spec, rows or [])
    content["omitted"] = "" if is_filled(content) else (omitted or "").strip()
    report.sections = {**report.sections, key: content}
    report.save(update_fields=["sections", "modified_at"])
    audit_record(action="write", actor=user, object_type="review", object_id=review.public_id,
                 detail={"what": "review.report.section", "section": key, "language": language,
                         "filled": is_filled(content)})  # fmt: skip
    return report


# --- the merged chronology, drafted from the records -------------------------------------------


def chronology_draft(review: Review, language: str | None = None) -> list[list[str]]:
    """Rows (date, "agency: what happened", "") for the child's significant entries and statutory
    steps inside the review period, oldest first, in ``language`` (the page's by default).
    Nothing if the review is not linked to a child."""
    child = review.referral.child
    if child is None:
        return []
    tz = timezone.get_current_timezone()
    since = datetime.combine(review.scope_from, time.min, tzinfo=tz)
    until = datetime.combine(review.referral.incident_on, time.max, tzinfo=tz)
    from cylch.events.models import Event

    events = (
        Event.objects.filter(person=child, occurred_at__range=(since, until), superseded_by__isnull=True)
        .exclude(sensitivity=Sensitivity.SPECIAL)
        .filter(
            Q(significance_marks__removed_at__isnull=True, significance_marks__isnull=False)
            | Q(sensitivity=Sensitivity.PROCESS)
        )
        .select_related("organisation")
        .distinct()
        .order_by("occurred_at", "pk")[:CHRONOLOGY_LIMIT]
    )
    language = language or _lang()
    rows = []
    for event in events:
        code = taxonomy.get(event.code)
        what = code.label(language) if code else event.code
        agency = local_name(event.organisation, language)
        rows.append([timezone.localtime(event.occurred_at).strftime("%d/%m/%Y"), f"{agency}: {what}", ""])
    return rows


@transaction.atomic
def chronology_generate(review: Review, *, user: User, replace: bool = False) -> int:
    """Fill the chronology section from the records; an edited chronology is kept unless the
    panel asks to replace it. Audited, because it reads a child's record for the review."""
    report = report_of(review)
    if is_filled(report.section("chronology")) and not replace:
        raise ValidationError(
            _("The chronology already has entries. Choose to replace them if you want a fresh draft.")
        )
    drafts = {language: chronology_draft(review, language) for language in LANGUAGES}
    rows = drafts["en"]
    if not rows:
        raise ValidationError(
            _("Cylch holds no significant entries or statutory steps for the child in the review period.")
            if review.referral.child
            else _("The review is not linked to a child's record, so there is nothing to draft from.")
        )
    # Both versions at once: the event codes and agencies have Welsh names, so the machine-made
    # draft is bilingual from the start and the panel translates only what it adds.
    for language, drafted in drafts.items():
        section_save(review, user=user, key="chronology", rows=drafted, language=language)
    audit_record(action="read", actor=user, object_type="person",
                 object_id=review.referral.child.public_id, purpose="Child practice review",
                 detail={"what": "review.chronology.drafted", "review": str(review.public_id), "rows": len(rows)})  # fmt: skip
    return len(rows)


# --- the document ----------------------------------------------------------------------------


@dataclass
class Section:
    key: str
    title: str
    guidance: str
    kind: str
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    omitted: str = ""
    core_task: int | None = None
    # The languages the section is written in; ``borrowed`` when the page's language has no
    # version and the other language's is shown in its place (and said so).
    languages: list[str] = field(default_factory=list)
    borrowed: bool = False

    @property
    def filled(self) -> bool:
        return bool(self.text.strip()) or bool(self.rows)

    @property
    def bilingual(self) -> bool:
        return len(self.languages) == len(LANGUAGES)


@dataclass
class Document:
    review: Review
    title: str
    board: str
    type_name: str
    dates: list[tuple[str, str]]
    sections: list[Section]
    recommendations: list[Recommendation]
    language: str = "en"

    @property
    def untranslated(self) -> list[Section]:
        """Sections written in one language only: the report is not yet bilingual."""
        return [s for s in self.sections if s.languages and not s.bilingual]


def _version(content: dict, language: str) -> tuple[str, list[list[str]], bool]:
    """(text, rows, borrowed): the section in ``language``, or the other language's version
    when that is all there is."""
    order = [language] + [other for other in LANGUAGES if other != language]
    for i, lang in enumerate(order):
        if _has(content, lang):
            return content.get(TEXT_KEY[lang], "") or "", content.get(ROWS_KEY[lang]) or [], i > 0
    return "", [], False


def document(review: Review) -> Document:
    """Everything the report says, in the current language, for the page and the exports."""
    from cylch.reviews.services import type_label

    language = _lang()
    report = report_read(review)
    sections = []
    for spec in template()["sections"]:
        content = report.section(spec["id"])
        text, rows, borrowed = _version(content, language)
        sections.append(Section(
            key=spec["id"], title=spec["label"][language], guidance=spec["guidance"][language], kind=spec["kind"],
            text=text, rows=rows, omitted=content.get("omitted", ""), borrowed=borrowed,
            headers=[c["label"][language] for c in spec.get("columns", [])], core_task=spec.get("core_task"),
            languages=written_in(content),
        ))  # fmt: skip
    referral = review.referral
    board = local_name(referral.board_area, language)
    fmt = "%d/%m/%Y"
    dates = [
        (_("Referred to the review sub-group"), referral.referred_on.strftime(fmt)),
        (_("Index incident"), referral.incident_on.strftime(fmt)),
        (_("Period reviewed"), f"{review.scope_from.strftime(fmt)} – {referral.incident_on.strftime(fmt)}"),
    ]
    if review.scope_rationale:
        dates.append((_("Why the period is longer than 12 months"), review.scope_rationale))
    for milestone in review.milestones.all():
        if milestone.done_on:
            dates.append((milestone.label, milestone.done_on.strftime(fmt)))
    recommendations = list(review.recommendations.all())
    for rec in recommendations:  # the wording in this language, for the page and the exports
        rec.shown_text, rec.shown_measure, rec.borrowed = rec.wording(language)
    return Document(
        review=review, title=_("%(type)s report") % {"type": type_label(review.type)}, board=board,
        type_name=type_label(review.type), dates=dates, sections=sections,
        recommendations=recommendations, language=language,
    )  # fmt: skip
