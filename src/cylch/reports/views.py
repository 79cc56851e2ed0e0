"""The report form (practitioners and the public), find-my-report, and the front door's pages."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request, client_ip
from cylch.access.roles import FRONT_DOOR_ROLES
from cylch.access.selectors import PersonNotFound, Viewer, access_person
from cylch.core import taxonomy
from cylch.core.forms import apply_errors, form_errors
from cylch.governance.approvals import held_outcomes
from cylch.governance.models import ApprovalKind
from cylch.governance.selectors import last_returned_for, pending_for
from cylch.reports import concerns
from cylch.reports.attachments import attachment_add, upload_dir
from cylch.reports.challenges import challenge_answer, challenge_raise
from cylch.reports.forms import (
    MAX_ADULTS,
    MAX_CHILDREN,
    MAX_INJURIES,
    AdultForm,
    ChallengeAnswerForm,
    ChallengeForm,
    ChildForm,
    DecisionForm,
    FindReportForm,
    InjuryForm,
    ReportForm,
)
from cylch.reports.models import Challenge, ChallengeStatus, Channel, Report, ReportSubject, Status, SubjectRole
from cylch.reports.selectors import (
    feedback_due,
    out_of_hours_queue,
    queue_for,
    reports_made_by,
    subjects_of,
    triage_history,
)
from cylch.reports.services import (
    SubjectIn,
    check_may_decide,
    front_door_for,
    report_decide,
    report_feedback_by_telephone,
    report_submit,
)
from cylch.rules.register import register_notices

PUBLIC_LIMIT_PER_HOUR = 5
MAX_ATTACHMENTS = 5
BODY_SIDES = [("front", gettext_lazy("Front")), ("back", gettext_lazy("Back"))]


def start(request):
    """The active offer: choose Welsh or English before anything else (RR 1.3)."""
    if request.method == "POST" and request.POST.get("language") in {"en", "cy"}:
        language = request.POST["language"]
        response = redirect("reports:new")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        translation.activate(language)
        return response
    return render(request, "reports/start.html")


def _ip_hash(request) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{client_ip(request)}".encode()).hexdigest()


def new(request):
    public = not request.user.is_authenticated
    prefill = None
    if not public and request.GET.get("person"):
        try:
            prefill = access_person(Viewer.for_user(request.user), request.GET["person"]).person
        except PersonNotFound:
            prefill = None
    form = ReportForm(request.POST or None, public=public)
    children = [ChildForm(request.POST or None, prefix=f"child{i}") for i in range(MAX_CHILDREN)]
    adults = [AdultForm(request.POST or None, prefix=f"adult{i}") for i in range(MAX_ADULTS)]
    injuries = [InjuryForm(request.POST or None, prefix=f"injury{i}") for i in range(MAX_INJURIES)]
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        if public and request.POST.get("website"):
            # A bot filled the honeypot: pretend all is well, store nothing.
            return render(request, "reports/done.html", {"reference": None})
        if (
            public
            and Report.objects.filter(
                source_ip_hash=_ip_hash(request), received_at__gte=timezone.now() - timedelta(hours=1)
            ).count()
            >= PUBLIC_LIMIT_PER_HOUR
        ):
            return render(request, "reports/slow_down.html", status=429)
        valid = all([form.is_valid(), *(f.is_valid() for f in children + adults + injuries)])
        valid = _children_told(children, prefill) and valid
        if valid:
            try:
                with transaction.atomic():  # the report and its files, or nothing
                    report = _submit(request, form, children, adults, injuries, prefill, public)
                    stored = []
                    try:
                        for upload in request.FILES.getlist("attachments")[:MAX_ATTACHMENTS]:
                            stored.append(
                                attachment_add(report=report, uploaded=upload, actor=None if public else request.user)
                            )
                    except Exception:
                        for attachment in stored:
                            (upload_dir() / attachment.stored_name).unlink(missing_ok=True)
                        raise
            except ValidationError as exc:
                errors = [
                    (_anchor(k, prefill, children, adults), m) for k, msgs in exc.message_dict.items() for m in msgs
                ]
            else:
                if report.immediate_danger:
                    return redirect("reports:danger", reference=report.reference)
                return redirect("reports:done", reference=report.reference)
        errors = _in_page_order(
            errors or form_errors(form) + [e for f in children + adults + injuries for e in form_errors(f)]
        )
    return render(
        request,
        "reports/new.html",
        {
            "form": form,
            "children": children,
            "adults": adults,
            "injuries": injuries,
            "public": public,
            "prefill": prefill,
            "form_errors": errors,
            "body_sides": BODY_SIDES,
            # A browser never sends a file input back filled in: say so, or the photos are lost unseen.
            "files_not_kept": len(request.FILES.getlist("attachments")),
        },
    )


def _children_told(children: list[ChildForm], prefill) -> bool:
    """What the service asks of the children, checked with the rest of the form, so that every
    error shows on the first try and beside its field: at least one child (unless the report
    starts from a child's record), and a name, or part of one, for each child described."""
    if prefill is not None and not prefill.is_adult:
        told = True
    else:
        told = any(hasattr(f, "cleaned_data") and not f.is_blank() for f in children)
        if not told:
            children[0].add_error("given_name", gettext_lazy("Tell us about at least one child."))
    for f in children:
        data = getattr(f, "cleaned_data", None)
        if data is not None and not f.is_blank() and not (data.get("given_name") or data.get("family_name")):
            f.add_error("given_name", gettext_lazy("Give the child's name, or as much of it as you know."))
            told = False
    return told


# The report form's parts, top to bottom: the error summary lists its errors in this order.
_PAGE_ORDER = ("child", "local_authority", "concern_codes", "what_happened", "when_happened", "child_words",
               "actions_taken", "injury", "attachments", "immediate_danger", "adult", "maker_name", "maker_email",
               "maker_phone")  # fmt: skip


def _in_page_order(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    def place(anchor: str) -> tuple[int, int]:
        if m := re.match(r"id_(child|adult|injury)(\d+)-", anchor):
            return _PAGE_ORDER.index(m.group(1)), int(m.group(2))
        name = anchor[3:]
        name = next((part for part in ("concern_codes", "immediate_danger") if name.startswith(part)), name)
        return (_PAGE_ORDER.index(name) if name in _PAGE_ORDER else len(_PAGE_ORDER)), 0

    return sorted(errors, key=lambda e: place(e[0]))


def _anchor(key: str, prefill=None, children=(), adults=()) -> str:
    """The id of the input a service error is about: children.1.nhs_number -> id_child1-nhs_number.
    The service counts the person the report starts from first (a child, or an adult), then
    only the forms filled in: a blank form before a filled one is not counted."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] in {"children", "adults"}:
        forms, prefix = (children, "child") if parts[0] == "children" else (adults, "adult")
        first_is_record = prefill is not None and prefill.is_adult == (parts[0] == "adults")
        filled = [i for i, f in enumerate(forms) if not f.is_blank()]
        index = int(parts[1]) - first_is_record
        if 0 <= index < len(filled):
            return f"id_{prefix}{filled[index]}-{parts[2]}"
        return f"id_{prefix}0-{parts[2]}"
    return {"attachment": "id_attachments", "children": "id_child0-given_name"}.get(key, f"id_{key}")


def _submit(request, form, children, adults, injuries, prefill, public) -> Report:
    data = form.cleaned_data
    child_subjects, adult_subjects = [], []
    if prefill is not None and prefill.is_adult:  # a worry about a child in an adult's life
        adult_subjects.append(SubjectIn(role=SubjectRole.ADULT, person=prefill))
    elif prefill is not None:
        child_subjects.append(SubjectIn(person=prefill))
    for f in children:
        if not f.is_blank():
            d = f.cleaned_data
            child_subjects.append(SubjectIn(given_name=d["given_name"], family_name=d["family_name"],
                                            date_of_birth=d["date_of_birth"].isoformat() if d["date_of_birth"] else "",
                                            nhs_number=d["nhs_number"], address_line=d["address_line"], town=d["town"], postcode=d["postcode"]))  # fmt: skip
    marks = [{"side": f.cleaned_data["side"] or "front", "x": f.cleaned_data["x"] if f.cleaned_data["x"] is not None else 0.5,
              "y": f.cleaned_data["y"] if f.cleaned_data["y"] is not None else 0.5, "location": f.cleaned_data["location"], "size": f.cleaned_data["size"],
              "description": f.cleaned_data["description"]} for f in injuries if not f.is_blank()]  # fmt: skip
    if marks and child_subjects and concerns.PHYSICAL & set(data["concern_codes"]):
        child_subjects[0].injuries = marks
    adult_subjects += [SubjectIn(role=SubjectRole.ADULT, given_name=f.cleaned_data["given_name"], family_name=f.cleaned_data["family_name"],
                                relationship_to_child=f.cleaned_data["relationship_to_child"]) for f in adults if not f.is_blank()]  # fmt: skip
    language = (translation.get_language() or "en")[:2]
    report = report_submit(
        channel=Channel.PUBLIC if public else Channel.PRACTITIONER,
        language=language,
        children=child_subjects,
        adults=adult_subjects,
        concern_codes=data["concern_codes"],
        what_happened=data["what_happened"],
        when_happened=data["when_happened"],
        child_words=data["child_words"],
        actions_taken=data["actions_taken"],
        immediate_danger=data["immediate_danger"] == "yes",
        local_authority=data["local_authority"],
        maker=None if public else request.user,
        maker_name=data["maker_name"] if public else "",
        maker_email=data["maker_email"] if public else "",
        maker_phone=data["maker_phone"] if public else "",
        ip_address=client_ip(request),
        source_ip_hash=_ip_hash(request) if public else "",
    )
    return report


def danger(request, reference):
    report = get_object_or_404(Report, reference=reference, immediate_danger=True)
    return render(request, "reports/danger.html", {"reference": report.reference})


def done(request, reference):
    report = get_object_or_404(Report, reference=reference)
    return render(
        request,
        "reports/done.html",
        {
            "reference": report.reference,
            "due": report.feedback_due_on,
            "front_door": _contact(front_door_for(report.local_authority)),
            "email": report.maker_email,
            "register": _register_sentences(request, report),
        },
    )


def _contact(org) -> dict[str, str] | None:
    """How to reach the front door that has the report, for someone who has not heard."""
    if not (org.safeguarding_phone or org.safeguarding_email):
        return None
    name = org.name(translation.get_language() or "en")
    return {"name": name, "phone": org.safeguarding_phone, "email": org.safeguarding_email}


def _register_sentences(request, report: Report) -> list[str]:
    """For the professional who made the report (never a member of the public, nor anyone else
    holding the reference): which of its children are on the register or looked after, and who
    their social worker is (the purpose of the register)."""
    if not request.user.is_authenticated or report.maker_id != request.user.pk:
        return []
    children = [s.person for s in report.subjects.filter(role=SubjectRole.CHILD).select_related("person")]
    notices = register_notices(children)
    language = translation.get_language() or "en"
    return [
        notices[c.pk].sentence(c.display_name, language)
        for c in children
        if c.pk in notices and notices[c.pk].worker_id != request.user.pk  # the social worker knows
    ]


def find(request):
    form = FindReportForm(request.GET or None)
    report = None
    if request.GET and form.is_valid():
        report = reports_made_by(request.user).filter(reference=form.cleaned_data["reference"]).first()
        if report is None:
            form.add_error("reference", _("No report with that reference was made by you or your organisation."))
        else:
            audit_from_request(
                request,
                action="read",
                object_type="report",
                object_id=report.reference,
                purpose="report maker checked status",
            )
    return _find_page(request, form, report, ChallengeForm(), form_errors(form) if request.GET else [])


def _find_page(request, form, report, challenge_form, errors):
    """The report maker's page: find a report, see its outcome, say "I remain concerned"."""
    mine = list(
        reports_made_by(request.user)[:20].prefetch_related(
            Prefetch("subjects", ReportSubject.objects.filter(role=SubjectRole.CHILD).order_by("pk"), "children")
        )
    )
    challenges = list(report.challenges.prefetch_related("steps").order_by("-created_at")) if report else []
    return render(request, "reports/find.html", {
        "form": form, "form_errors": errors, "report": report, "mine": mine,
        "challenges": challenges, "challenge_form": challenge_form,
        "may_challenge": bool(report and report.status == "decided" and not any(c.status == ChallengeStatus.OPEN for c in challenges)),
    })  # fmt: skip


@require_POST
def challenge(request, reference):
    report = reports_made_by(request.user).filter(reference=reference).first()
    if report is None:
        raise Http404
    form = ChallengeForm(request.POST)
    if form.is_valid():
        try:
            challenge_raise(report=report, user=request.user, reason=form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            for message in getattr(exc, "messages", [str(exc)]):
                messages.error(request, message)
        else:
            messages.success(
                request, _("Your challenge has been sent to the front door. You will be told their answer.")
            )
        return redirect(f"{reverse('reports:find')}?reference={reference}")
    # Back to the page with what was typed, the error at the box and in the summary.
    found = FindReportForm({"reference": reference})
    found.is_valid()
    return _find_page(request, found, report, form, form_errors(form))


def _front_door_only(request):
    if request.user.role not in FRONT_DOOR_ROLES:
        raise PermissionDenied(_("The front-door pages are for children's services."))


def queue(request):
    _front_door_only(request)
    reports = list(queue_for(request.user)[:200])
    now = timezone.now()
    org = request.user.organisation
    challenges = Challenge.objects.filter(
        status=ChallengeStatus.OPEN, report__local_authority_id=org.local_authority_id if org else None
    ).select_related("report")
    return render(
        request,
        "reports/queue.html",
        {
            "reports": reports,
            "now": now,
            "edt": list(out_of_hours_queue(request.user)[:50]),
            "challenges": list(challenges[:100]),
        },
    )


def due(request):
    _front_door_only(request)
    return render(
        request, "reports/due.html", {"reports": list(feedback_due(request.user)[:200]), "today": timezone.localdate()}
    )


def _decidable(request, reference) -> Report:
    """The report, for a front-door user who may decide it; to anyone else it is not there."""
    _front_door_only(request)
    report = get_object_or_404(Report, reference=reference)
    try:
        check_may_decide(user=request.user, report=report)
    except PermissionDenied:
        raise Http404 from None
    return report


def triage(request, reference):
    return _triage_page(request, _decidable(request, reference), DecisionForm())


def _triage_page(request, report: Report, decision_form: DecisionForm):
    """The triage page; ``decision_form`` bound, with its errors, when a decision was refused,
    so what was chosen and written is shown again beside what is wrong."""
    language = (translation.get_language() or "en")[:2]
    history = triage_history(report)
    concern_labels = [taxonomy.get(c).label(language) for c in report.concern_codes if taxonomy.get(c)]
    soft = [
        (e, taxonomy.get(e.code).label(language) if taxonomy.get(e.code) else e.code, history.circle.get(e.person_id))
        for e in history.soft_concerns
    ]
    audit_from_request(request, action="read", object_type="report", object_id=report.reference, purpose="report triaged",
                       detail={"earlier_reports": len(history.earlier_reports), "soft_concerns": len(soft)})  # fmt: skip
    return render(request, "reports/triage.html", {
        # The language link returns here even from a refused decision's POST-only address.
        "language_next": reverse("reports:triage", args=[report.reference]),
        "form_errors": form_errors(decision_form) if decision_form.is_bound else [],
        "report": report, "subjects": subjects_of(report), "adults": [s for s in subjects_of(report) if s.role == "adult"], "history": history, "concern_labels": concern_labels, "soft": soft,
        "decision_form": decision_form, "injuries": list(report.injuries.all()), "body_sides": BODY_SIDES,
        "challenges": list(report.challenges.prefetch_related("steps").order_by("-created_at")), "answer_form": ChallengeAnswerForm(),
        "awaiting_approval": pending_for(report), "returned": last_returned_for(report),
        "held_outcomes": held_outcomes(ApprovalKind.REPORT_NO_FURTHER_ACTION, report) if report.status != "decided" else [],
    })  # fmt: skip


@require_POST
def decide(request, reference):
    report = _decidable(request, reference)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            report_decide(report=report, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            report.refresh_from_db()
            if report.status != Status.DECIDED and pending_for(report) is not None:
                messages.warning(
                    request,
                    _("Your decision is waiting for a manager's approval. It has not taken effect: the report stays "
                      "on the queue and the report maker has not been told. You will hear when a manager answers."),
                )  # fmt: skip
                return redirect("reports:triage", reference=reference)
            if report.feedback_sent_at is None:
                messages.warning(
                    request,
                    _("Decision recorded. Cylch has no email for the report maker: phone them with the outcome, "
                      "then record here that you have."),
                )  # fmt: skip
                return redirect("reports:triage", reference=reference)
            messages.success(request, _("Decision recorded. The report maker has been told the outcome."))
            return redirect("reports:queue")
    return _triage_page(request, report, form)


@require_POST
def told_by_telephone(request, reference):
    _front_door_only(request)
    report = get_object_or_404(Report, reference=reference)
    try:
        report_feedback_by_telephone(report=report, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        for message in getattr(exc, "messages", [str(exc)]):
            messages.error(request, message)
        return redirect("reports:triage", reference=reference)
    messages.success(request, _("Recorded: the report maker has been told the outcome by telephone."))
    return redirect("reports:queue")


@require_POST
def answer(request, reference, challenge_id):
    _front_door_only(request)
    challenge = get_object_or_404(Challenge, public_id=challenge_id, report__reference=reference)
    form = ChallengeAnswerForm(request.POST)
    if form.is_valid():
        try:
            challenge_answer(challenge=challenge, user=request.user, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            for message in getattr(exc, "messages", [str(exc)]):
                messages.error(request, message)
        else:
            messages.success(request, _("Answer recorded. The report maker has been told."))
    else:
        for _field, message in form_errors(form):
            messages.error(request, message)
    return redirect("reports:triage", reference=reference)
