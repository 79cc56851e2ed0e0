"""People's rights pages: what a person may ask of their record, the subject access export,
a correction at their request, and an entry's versions (docs/governance.md, "People's rights")."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.audit import audit_from_request
from cylch.access.policy import Level, Relationship
from cylch.access.selectors import PersonNotFound, Viewer, access_person
from cylch.core.forms import apply_errors, form_errors
from cylch.core.taxonomy import get as code_of
from cylch.events.models import Event
from cylch.governance import rights, rights_requests
from cylch.governance.exports import ExportForm, deliver, safe_export_view
from cylch.governance.models import Rectification, RightsRequest
from cylch.governance.rights_forms import RectificationForm, RightsAnswerForm, RightsExtendForm, RightsRequestForm

OWN_ENTRIES_SHOWN = 200


def _open(request, person_id):
    try:
        return access_person(Viewer.for_user(request.user), person_id)
    except PersonNotFound:
        raise Http404(_("No person with that reference, or you may not open person records.")) from None


def _entry(request, person_id, event_id):
    access = _open(request, person_id)
    try:
        return access, rights.entry_for(access, event_id)
    except rights.EntryNotFound:
        raise Http404(_("No entry with that reference on this record.")) from None


def _label(event: Event) -> str:
    code = code_of(event.code)
    return code.label((get_language() or "en")[:2]) if code else event.code


def person_rights(request, person_id):
    """Corrections the user's organisation can make to this person's record, corrections made,
    and (for the authority's team managers) the subject access export."""
    access = _open(request, person_id)
    person = access.person
    user = request.user
    own = []
    if user.organisation_id:
        own = list(
            Event.objects.filter(
                person=person, organisation_id=user.organisation_id, superseded_by__isnull=True
            ).order_by("-occurred_at", "-pk")[:OWN_ENTRIES_SHOWN]
        )
    made = [
        r
        for r in Rectification.objects.filter(person=person)
        .select_related("original", "correction")
        .order_by("-recorded_at")
        if access.level_for(sensitivity=r.correction.sensitivity, organisation_id=r.correction.organisation_id)
        != Level.EXISTENCE
    ]
    may_export = rights.may_answer_requests(user) and access.relationship != Relationship.NONE
    audit_from_request(request, action="read", object_type="person", object_id=person.public_id,
                       purpose="people's rights page viewed", detail={"person": str(person.public_id)})  # fmt: skip
    return render(request, "governance/rights/person.html", {
        "person": person, "own": [(e, _label(e)) for e in own], "made": [(r, _label(r.original)) for r in made],
        "may_export": may_export, "export_form": ExportForm(formats=rights.FORMATS, auto_id="id_sar_%s"),
        "requests": rights_requests.person_requests(user, person) if may_export else [],
    })  # fmt: skip


@safe_export_view
def subject_access(request, person_id):
    """Everything held about the person, as a PDF (with the JSON inside it) or CSV."""
    try:
        access = rights.person_for_rights(request.user, person_id)
    except PersonNotFound:
        raise Http404(_("No person with that reference, or you may not open person records.")) from None
    fmt = request.GET.get("format") or "pdf"
    if fmt not in rights.FORMATS:
        raise Http404(_("Choose PDF or CSV."))
    made = rights.subject_access_file(access, user=request.user, fmt=fmt)
    return deliver(request, fmt=fmt, filename=made.filename, object_type="person", object_id=access.person.public_id,
                   purpose="subject access export", body=made.body, row_count=made.rows, detail=made.detail,
                   back_url=reverse("governance:rights", args=[access.person.public_id]))  # fmt: skip


def rectify(request, person_id, event_id):
    """Record a correction the person asked for: the entry as corrected, who asked, when and why."""
    access, event = _entry(request, person_id, event_id)
    if not rights.may_rectify(request.user, event):
        raise PermissionDenied(_("Only the organisation that recorded an entry can correct it."))
    latest = rights.latest_version(event)
    if latest.pk != event.pk:
        return redirect("governance:rectify", person_id=access.person.public_id, event_id=latest.public_id)
    # As the field reads dates (day/month/year): a date object would render in the locale's long form.
    initial = {"summary": event.summary, "requested_on": timezone.localdate().strftime("%d/%m/%Y")}
    form = RectificationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        occurred_at = None
        if d["occurred_on"] and d["occurred_on"] != timezone.localtime(event.occurred_at).date():
            occurred_at = timezone.make_aware(
                datetime.combine(d["occurred_on"], timezone.localtime(event.occurred_at).time())
            )
        try:
            done = rights.rectification_record(
                event=event, user=request.user, summary=d["summary"], reason=d["reason"], occurred_at=occurred_at,
                requested_by_name=d["requested_by_name"], requester_relationship=d["requester_relationship"],
                requested_on=d["requested_on"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Correction recorded. The original is kept and marked as corrected."))
            return redirect(
                "governance:versions", person_id=access.person.public_id, event_id=done.correction.public_id
            )
    return render(request, "governance/rights/rectify.html", {
        "person": access.person, "event": event, "label": _label(event), "form": form, "form_errors": form_errors(form),
        "organisation_name": event.organisation.name((get_language() or "en")[:2]),
    })  # fmt: skip


def versions(request, person_id, event_id):
    """Every version of an entry, newest first, as the viewer may see each."""
    access, event = _entry(request, person_id, event_id)
    shown = rights.versions_of(access, event)
    audit_from_request(request, action="read", object_type="event", object_id=shown[0].event.public_id,
                       purpose="entry versions viewed", detail={"person": str(access.person.public_id)})  # fmt: skip
    return render(request, "governance/rights/versions.html", {
        "person": access.person, "versions": shown, "label": _label(shown[0].event),
        "may_rectify": rights.may_rectify(request.user, shown[0].event),
    })  # fmt: skip


# --- requests and the month to answer them (governance/rights_requests.py) ---------------------


def request_new(request, person_id):
    """Log a request the person made, for the team's list and its clock."""
    try:
        access = rights.person_for_rights(request.user, person_id)
    except PersonNotFound:
        raise Http404(_("No person with that reference, or you may not open person records.")) from None
    form = RightsRequestForm(request.POST or None, initial={"received_on": timezone.localdate().strftime("%d/%m/%Y")})
    if request.method == "POST" and form.is_valid():
        try:
            made = rights_requests.request_record(user=request.user, person_id=person_id, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Request logged. It must be answered by %(due)s.") % {"due": made.due_on.strftime("%d/%m/%Y")},
            )
            return redirect("governance:rights-request", public_id=made.public_id)
    return render(request, "governance/rights/request_new.html", {
        "person": access.person, "form": form, "form_errors": form_errors(form),
    })  # fmt: skip


def requests_list(request):
    """The team's open requests, the soonest due first, and those answered in the last three months."""
    if not rights.may_answer_requests(request.user):
        raise PermissionDenied(_("Requests are logged and answered by a team manager of children's services."))
    open_, answered = rights_requests.team_requests(request.user)
    today = timezone.localdate()
    return render(request, "governance/rights/requests.html", {
        "open": [(r, left, -left) for r in open_ for left in [rights_requests.days_left(r, today)]], "answered": answered,
        "answered_days": rights_requests.ANSWERED_SHOWN_DAYS,
    })  # fmt: skip


def request_detail(request, public_id):
    """One request: its day, and recording the answer or an extension."""
    try:
        item = rights_requests.request_for(request.user, public_id)
    except RightsRequest.DoesNotExist:
        raise Http404(_("No request with that reference for your team.")) from None
    action = request.POST.get("action") if request.method == "POST" else None
    answer_form = RightsAnswerForm(
        request.POST if action == "answer" else None, initial={"answered_on": timezone.localdate().strftime("%d/%m/%Y")}
    )
    extend_form = RightsExtendForm(request.POST if action == "extend" else None)
    form = {"answer": answer_form, "extend": extend_form}.get(action or "")
    if form is not None and form.is_valid():
        try:
            if action == "answer":
                rights_requests.request_answer(user=request.user, public_id=public_id, **form.cleaned_data)
                messages.success(request, _("Answer recorded."))
            else:
                done = rights_requests.request_extend(user=request.user, public_id=public_id, **form.cleaned_data)
                messages.success(
                    request,
                    _("Extended: it must now be answered by %(due)s. Tell the person why, today.")
                    % {"due": done.extended_to.strftime("%d/%m/%Y")},
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("governance:rights-request", public_id=public_id)
    left = rights_requests.days_left(item)
    audit_from_request(request, action="read", object_type="rights_request", object_id=item.public_id,
                       purpose="rights request viewed", detail={"person": str(item.person.public_id)})  # fmt: skip
    return render(request, "governance/rights/request.html", {
        "item": item, "days_left": left, "overdue_by": -left, "answer_form": answer_form,
        "extend_form": extend_form, "may_extend": item.is_open and item.extended_to is None
        and timezone.localdate() <= item.due_on,
        "form_errors": form_errors(form) if form is not None else [],
    })  # fmt: skip
