"""Framework self-assessments (TA rec. 3.5): a board answers each component of a framework with
evidence, actions and a grade on the framework's scale, once a year, and compares the years.

The frameworks are data files (``frameworks.py``, docs/frameworks.md). An assessment keeps the
framework's id and the version it answered, so a later wording change shows on the comparison.
Boards only for now: no role in Cylch speaks for a local authority as a whole (team managers
and conference chairs work cases), though the model and these functions take either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import AuditAction, BoardArea, LocalAuthority, User
from cylch.core.collation import local_name
from cylch.reviews import frameworks, services
from cylch.reviews.frameworks import Component, Framework, Problem
from cylch.reviews.models import Assessment, AssessmentAnswer


@dataclass(frozen=True)
class Assessor:
    """Who assesses itself: a board area or a local authority (exactly one)."""

    board_area: BoardArea | None = None
    local_authority: LocalAuthority | None = None

    def filters(self) -> dict:
        return {"board_area": self.board_area, "local_authority": self.local_authority}

    def name(self, language: str = "en") -> str:
        return local_name(self.board_area or self.local_authority, language)


def assessor_for(user: User) -> Assessor:
    """The board a member of its review sub-group or its analyst assesses; anyone else is refused."""
    org = user.organisation
    if user.role not in services.BOARD_ROLES or org is None or org.board_area_id is None:
        raise PermissionDenied(_("Only a safeguarding board's review sub-group and analysts assess the board."))
    return Assessor(board_area=org.board_area)


def _check(user: User, assessment: Assessment) -> None:
    mine = assessor_for(user)
    if (assessment.board_area_id, assessment.local_authority_id) != (
        mine.board_area.pk if mine.board_area else None,
        mine.local_authority.pk if mine.local_authority else None,
    ):
        raise PermissionDenied(_("This assessment belongs to someone else."))


def assessment_for(user: User, public_id) -> Assessment:
    """One of the user's board's assessments; another's is not found, as if absent."""
    found = Assessment.objects.filter(public_id=public_id, **assessor_for(user).filters()).first()
    if found is None:
        raise Http404
    return found


def framework_of(assessment: Assessment) -> Framework:
    """The framework an assessment answers (404 if its file is no longer shipped)."""
    found = frameworks.framework(assessment.framework)
    if found is None:
        raise Http404(f"framework {assessment.framework} is not shipped")
    return found


# --- the frameworks on offer -------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateFile:
    """A shipped template the loader refuses until the published wording is added."""

    file: str
    title: dict
    problems: list[Problem]


def templates_needing_wording() -> list[TemplateFile]:
    out = []
    for path in frameworks.templates():
        problems = frameworks.check_framework(path)
        if not problems:
            continue  # wording added in place: it is a framework now, not a template
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            raw = {}
        title = raw.get("title") if isinstance(raw.get("title"), dict) else {"en": path.name, "cy": path.name}
        out.append(TemplateFile(path.name, title, problems))
    return out


# --- answering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    grade: int | None = None
    evidence: str = ""
    actions: str = ""

    @property
    def is_empty(self) -> bool:
        return self.grade is None and not self.evidence.strip() and not self.actions.strip()


def answer_field(component_id: str, part: str) -> str:
    """The form field (and error key) of one part of a component's answer: ids such as "1.1"
    become "c1_1-grade", safe in HTML ids and URL fragments."""
    return "c" + re.sub(r"[^A-Za-z0-9]", "_", component_id) + "-" + part


def _audit(user: User, assessment: Assessment, op: str, **detail) -> None:
    audit_record(action=AuditAction.WRITE, actor=user, object_type="assessment", object_id=assessment.public_id,
                 purpose="Framework self-assessment", detail={"op": op, "framework": assessment.framework,
                                                              "year": assessment.year, **detail})  # fmt: skip


def previous_assessment(assessor: Assessor, framework_id: str, year: int) -> Assessment | None:
    """The latest assessment against the same framework before ``year``."""
    return (
        Assessment.objects.filter(framework=framework_id, year__lt=year, **assessor.filters()).order_by("-year").first()
    )


def assessment_start(
    *, user: User, assessor: Assessor, framework_id: str, year: int | None = None, copy_previous: bool = True
) -> Assessment:
    """Start this year's assessment against a shipped framework. With ``copy_previous``, last
    assessment's evidence and actions are the starting point; grades are not copied: each year's
    grade is a fresh judgement."""
    mine = assessor_for(user)
    if mine != assessor:
        raise PermissionDenied(_("You can only start your own board's assessment."))
    fw = frameworks.framework(framework_id)
    if fw is None:
        raise ValidationError({"framework": [_("Choose one of the frameworks on this page.")]})
    year = year or timezone.localdate().year
    with transaction.atomic():
        # The unique constraint does not hold with an empty column (NULLs differ), so lock the
        # assessor's row while checking: two clicks at once make one assessment.
        place = assessor.board_area or assessor.local_authority
        type(place).objects.select_for_update().filter(pk=place.pk).first()
        if Assessment.objects.filter(framework=fw.id, year=year, **assessor.filters()).exists():
            raise ValidationError({"framework": [_("This year's assessment against this framework has been started.")]})
        assessment = Assessment.objects.create(framework=fw.id, framework_version=fw.version, year=year,
                                               created_by=user, **assessor.filters())  # fmt: skip
        copied_from = previous_assessment(assessor, fw.id, year) if copy_previous else None
        if copied_from is not None:
            ids = {c.id for c in fw.components}
            AssessmentAnswer.objects.bulk_create(
                AssessmentAnswer(assessment=assessment, component=a.component, evidence=a.evidence, actions=a.actions)
                for a in copied_from.answers.all()
                if a.component in ids and (a.evidence or a.actions)
            )
        _audit(user, assessment, "start", copied_from=copied_from.year if copied_from else None)
    return assessment


def _answers_problems(fw: Framework, answers: Mapping[str, Answer]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for component_id, answer in answers.items():
        component = fw.component(component_id)
        if component is None:
            errors["__all__"] = [_("The framework has no component %(id)s.") % {"id": component_id}]
            continue
        if answer.grade is not None:
            try:
                fw.scale.check(answer.grade)
            except ValueError:
                errors[answer_field(component_id, "grade")] = [
                    _("%(component)s: choose a grade from %(min)s to %(max)s.")
                    % {"component": component_id, "min": fw.scale.min, "max": fw.scale.max}
                ]
    return errors


def assessment_save(assessment: Assessment, *, user: User, answers: Mapping[str, Answer]) -> Assessment:
    """Save answers as a draft: any may be blank. A component left wholly blank has no answer."""
    _check(user, assessment)
    if assessment.state != Assessment.State.DRAFT:
        raise ValidationError(_("This assessment has been submitted and can no longer be changed."))
    fw = framework_of(assessment)
    errors = _answers_problems(fw, answers)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        existing = {a.component: a for a in assessment.answers.all()}
        empty = [existing[c].pk for c, a in answers.items() if a.is_empty and c in existing]
        AssessmentAnswer.objects.filter(pk__in=empty).delete()
        new, changed = [], []
        for component_id, answer in answers.items():
            if answer.is_empty:
                continue
            row = existing.get(component_id)
            values = (answer.grade, answer.evidence.strip(), answer.actions.strip())
            if row is None:
                new.append(AssessmentAnswer(assessment=assessment, component=component_id, grade=values[0],
                                            evidence=values[1], actions=values[2]))  # fmt: skip
            elif (row.grade, row.evidence, row.actions) != values:
                row.grade, row.evidence, row.actions = values
                changed.append(row)
        AssessmentAnswer.objects.bulk_create(new)
        AssessmentAnswer.objects.bulk_update(changed, ["grade", "evidence", "actions"])
        assessment.save(update_fields=["modified_at"])
        _audit(user, assessment, "save", components=sorted(a.component for a in [*new, *changed]), cleared=len(empty))
    return assessment


def missing(assessment: Assessment, fw: Framework | None = None) -> dict[str, list[str]]:
    """What stops submission, one message per component under its first missing field: every
    component needs a grade and its evidence, and the actions planned unless it is graded at the
    top of the scale."""
    fw = fw or framework_of(assessment)
    answers = {a.component: a for a in assessment.answers.all()}
    names = {"grade": _("grade"), "evidence": _("evidence"), "actions": _("actions")}
    errors: dict[str, list[str]] = {}
    for component in fw.components:
        a = answers.get(component.id)
        parts = []
        if a is None or a.grade is None:
            parts.append("grade")
        if a is None or not a.evidence.strip():
            parts.append("evidence")
        if (a is None or a.grade is None or a.grade < fw.scale.max) and (a is None or not a.actions.strip()):
            parts.append("actions")
        if parts:
            errors[answer_field(component.id, parts[0])] = [
                _("%(id)s %(title)s – missing: %(what)s")
                % {"id": component.id, "title": component.words("title", _language()),
                   "what": ", ".join(str(names[p]) for p in parts)}
            ]  # fmt: skip
    return errors


def assessment_submit(assessment: Assessment, *, user: User, on: date | None = None) -> Assessment:
    """Submit the year's assessment once every component is answered; refuse naming the rest."""
    _check(user, assessment)
    if assessment.state != Assessment.State.DRAFT:
        raise ValidationError(_("This assessment has already been submitted."))
    problems = missing(assessment)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        assessment.state = Assessment.State.SUBMITTED
        assessment.submitted_on = on or timezone.localdate()
        assessment.save(update_fields=["state", "submitted_on", "modified_at"])
        _audit(user, assessment, "submit")
    return assessment


def _language() -> str:
    return "cy" if (get_language() or "en").startswith("cy") else "en"


# --- year on year ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    grade: int | None
    change: int | None  # from the year before; None when either year has no grade

    @property
    def previous(self) -> int | None:
        return None if self.change is None or self.grade is None else self.grade - self.change


@dataclass(frozen=True)
class Row:
    component: Component
    cells: tuple[Cell, ...]  # one per year, oldest first


@dataclass(frozen=True)
class YearSummary:
    assessment: Assessment
    answered: int  # components with a grade
    mean: float | None
    counts: dict[int, int] = field(default_factory=dict)  # grade -> components


@dataclass(frozen=True)
class Comparison:
    framework: Framework
    years: tuple[YearSummary, ...]  # oldest first
    rows: tuple[Row, ...]

    @property
    def improved(self) -> int:
        """Components graded higher in the latest year than the year before."""
        return sum(1 for r in self.rows if r.cells and (r.cells[-1].change or 0) > 0)

    @property
    def declined(self) -> int:
        return sum(1 for r in self.rows if r.cells and (r.cells[-1].change or 0) < 0)


def comparison(*, assessor: Assessor, framework_id: str) -> Comparison:
    """Grades per component for each year the assessor answered the framework, with the change
    from the year before (drafts included: the page marks them)."""
    fw = frameworks.framework(framework_id)
    if fw is None:
        raise Http404(f"framework {framework_id} is not shipped")
    assessments = list(
        Assessment.objects.filter(framework=fw.id, **assessor.filters()).order_by("year").prefetch_related("answers")
    )
    grades = [{a.component: a.grade for a in assessment.answers.all()} for assessment in assessments]
    rows = []
    for component in fw.components:
        cells, before = [], None
        for year_grades in grades:
            grade = year_grades.get(component.id)
            change = grade - before if grade is not None and before is not None else None
            cells.append(Cell(grade, change))
            before = grade
        rows.append(Row(component, tuple(cells)))
    years = []
    for assessment, year_grades in zip(assessments, grades, strict=True):
        given = [g for c, g in year_grades.items() if g is not None and fw.component(c) is not None]
        counts = {grade: given.count(grade) for grade in fw.scale.grades}
        mean = round(sum(given) / len(given), 2) if given else None
        years.append(YearSummary(assessment, len(given), mean, counts))
    return Comparison(fw, tuple(years), tuple(rows))
