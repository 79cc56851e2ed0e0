"""Self-assessment pages: the board's assessments and the frameworks on offer, answering one
year's assessment, and the year-on-year comparison. Thin: parse, call ``assessments``, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.core.forms import apply_errors, form_errors
from cylch.reviews import assessments
from cylch.reviews.assessment_forms import AnswersForm, StartForm
from cylch.reviews.coded import language
from cylch.reviews.frameworks import shipped
from cylch.reviews.models import Assessment


def index(request):
    assessor = assessments.assessor_for(request.user)
    lang = language()
    year = timezone.localdate().year
    mine = list(Assessment.objects.filter(**assessor.filters()))
    offered = []
    for fw in shipped():
        done = [a for a in mine if a.framework == fw.id]
        offered.append({
            "fw": fw, "title": fw.title[lang], "this_year": next((a for a in done if a.year == year), None),
            "previous": assessments.previous_assessment(assessor, fw.id, year), "count": len(done),
        })  # fmt: skip
    titles = {fw.id: fw.title[lang] for fw in shipped()}
    return render(request, "reviews/assessments/index.html", {
        "assessor": assessor.name(lang), "year": year, "offered": offered,
        "mine": [(a, titles.get(a.framework, a.framework)) for a in mine],
        "templates": [(t, t.title.get(lang) or t.title.get("en") or t.file) for t in assessments.templates_needing_wording()],
    })  # fmt: skip


@require_POST
def start(request):
    assessor = assessments.assessor_for(request.user)
    form = StartForm(request.POST)
    if not form.is_valid():
        return redirect("reviews:assessments")
    framework_id = form.cleaned_data["framework"]
    try:
        assessment = assessments.assessment_start(user=request.user, assessor=assessor, framework_id=framework_id,
                                                  copy_previous=form.cleaned_data["copy_previous"])  # fmt: skip
    except ValidationError as exc:
        existing = Assessment.objects.filter(framework=framework_id, year=timezone.localdate().year,
                                             **assessor.filters()).first()  # fmt: skip
        if existing is not None:
            return redirect("reviews:assessment", assessment_id=existing.public_id)
        messages.error(request, " ".join(exc.messages))
        return redirect("reviews:assessments")
    messages.success(request, _("This year's assessment is started."))
    return redirect("reviews:assessment", assessment_id=assessment.public_id)


def assessment(request, assessment_id):
    a = assessments.assessment_for(request.user, assessment_id)
    fw = assessments.framework_of(a)
    lang = language()
    form = AnswersForm(request.POST or None, framework=fw, initial=AnswersForm.initial_for(a))
    if request.method == "POST" and a.state == Assessment.State.DRAFT and form.is_valid():
        submitting, saved = request.POST.get("action") == "submit", False
        try:
            assessments.assessment_save(a, user=request.user, answers=form.answers())
            saved = True
            if submitting:
                assessments.assessment_submit(a, user=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
            if saved:
                messages.info(request, _("Your answers are saved as a draft. To submit, complete what is listed."))
        else:
            messages.success(request, _("Assessment submitted.") if submitting else _("Saved as a draft."))
            return redirect("reviews:assessment", assessment_id=a.public_id)
    previous = assessments.previous_assessment(assessments.assessor_for(request.user), a.framework, a.year)
    last = {x.component: x.grade for x in previous.answers.all()} if previous else {}
    answers = {x.component: x for x in a.answers.all()}
    levels = [{"grade": lv.grade, "label": lv.label[lang], "description": (lv.description or {}).get(lang, "")}
              for lv in fw.scale.levels]  # fmt: skip
    labels = {lv.grade: lv.label[lang] for lv in fw.scale.levels}
    groups = form.component_fields(lang)
    for row in (r for g in groups for r in g["rows"]):
        answer = answers.get(row["c"].id)
        row.update(answer=answer, grade_label=labels.get(answer.grade, "") if answer else "", last=last.get(row["c"].id),
                   last_label=labels.get(last.get(row["c"].id), ""), texts=[row["evidence"], row["actions"]])  # fmt: skip
    return render(request, "reviews/assessments/assessment.html", {
        "a": a, "fw": fw, "title": fw.title[lang], "form": form, "form_errors": form_errors(form),
        "groups": groups, "levels": levels, "previous": previous,
        "answered": sum(1 for x in answers.values() if x.grade is not None), "total": len(fw.components),
    })  # fmt: skip


def compare(request, framework_id):
    assessor = assessments.assessor_for(request.user)
    lang = language()
    result = assessments.comparison(assessor=assessor, framework_id=framework_id)
    labels = {lv.grade: lv.label[lang] for lv in result.framework.scale.levels}
    return render(request, "reviews/assessments/compare.html", {
        "c": result, "title": result.framework.title[lang], "assessor": assessor.name(lang), "labels": labels,
        "rows": [(r, r.component.words("title", lang)) for r in result.rows],
        "levels": [(lv.grade, lv.label[lang]) for lv in result.framework.scale.levels],
        "pair": [y.assessment.year for y in result.years[-2:]] if len(result.years) > 1 else None,
    })  # fmt: skip


def adding(request):
    assessments.assessor_for(request.user)
    return render(request, "reviews/assessments/adding.html", {
        "templates": [(t, t.title.get(language()) or t.file) for t in assessments.templates_needing_wording()],
    })  # fmt: skip
