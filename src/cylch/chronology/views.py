"""Chronology, voice and story pages. Thin: parse, call a selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.chronology import exports, voice
from cylch.chronology.family import family_of
from cylch.chronology.forms import FilterForm, MarkForm, ResponseForm, StoryForm, VoiceForm
from cylch.chronology.selectors import Filters, chronology
from cylch.chronology.services import significance_toggle
from cylch.core.forms import apply_errors, form_errors
from cylch.governance.exports import deliver, safe_export_view
from cylch.identity.selectors import age_on
from cylch.identity.views import open_person
from cylch.rules.register import register_notices

GROUPS_PER_PAGE = 50  # rendering 100 groups was half the page's time for a 2,000-entry family


def _filters(request, chron_family):
    """The filter form bound to the query string, and the filters its valid fields give: a
    mistyped date is shown as an error while the category chosen beside it still applies (the
    whole list under a "Health" filter read as if it were filtered)."""
    people = [(m.person.public_id, m.role_label) for m in chron_family.members]
    form = FilterForm(request.GET or None, people=people)
    if not request.GET:
        return form, Filters()
    form.is_valid()
    d, none = form.cleaned_data, Filters()
    return form, Filters(
        person=next(
            (m.person.public_id for m in chron_family.members if str(m.person.public_id) == d.get("person")), None
        ),
        organisation=d.get("organisation", none.organisation),
        category=d.get("category", none.category),
        significant_only=d.get("significant", none.significant_only),
        since=d.get("since", none.since),
        until=d.get("until", none.until),
    )


def _chronology(request, access):
    whole_family = request.GET.get("view") != "child"
    family = access.family or family_of(access.person)
    form, filters = _filters(request, family)
    chron = chronology(access, whole_family=whole_family, filters=filters, family=family)
    form.offer(organisations=chron.organisations, categories=chron.categories, people=chron.people)
    return form, chron


def chronology_page(request, public_id):
    access = open_person(request, public_id, family=family_of)
    if access.person.public_id != public_id:
        return redirect("chronology:chronology", public_id=access.person.public_id)
    form, chron = _chronology(request, access)
    page = Paginator(chron.groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    chron.hydrate(entry for group in page.object_list for entry in group.entries)
    query = request.GET.copy()
    query.pop("page", None)
    audit_from_request(
        request,
        action="read",
        object_type="person",
        object_id=access.person.public_id,
        purpose="chronology viewed",
        detail={
            "whole_family": chron.whole_family,
            "relationship": access.relationship.value,
            "entries": len(chron.entries),
            "withheld": chron.withheld,
            "filters": request.GET.urlencode(),
        },
    )
    return render(
        request,
        "chronology/chronology.html",
        {
            "access": access,
            "person": access.person,
            "chron": chron,
            "form": form,
            "form_errors": form_errors(form) if request.GET and form.errors else [],
            "page": page,
            "query": query.urlencode(),
            "mark_form": MarkForm(),
        },
    )


@safe_export_view
def export(request, public_id, fmt=None):
    """The chronology as PDF, XLSX or CSV (``fmt`` from the address, or the export form's
    ``format``), filtered as on the page, delivered safely (audited, optionally encrypted)."""
    fmt = fmt or request.GET.get("format", "")
    if fmt not in exports.FORMATS:
        raise Http404
    access = open_person(request, public_id, family=family_of)
    _form, chron = _chronology(request, access)
    mark = exports.Watermark(request.user, timezone.now())
    title = _("Chronology of %(name)s") % {"name": access.person.display_name}
    if chron.whole_family:
        title = _("Whole-family chronology of %(name)s") % {"name": access.person.display_name}
    if fmt == "csv":
        body = exports.to_csv(chron, mark)
    elif fmt == "xlsx":
        body = exports.to_xlsx(chron, mark, title)
    else:
        body = exports.to_pdf(chron, mark, title)
    filters = request.GET.copy()
    for choice in ("format", "protect"):
        filters.pop(choice, None)
    stamp = timezone.localtime(mark.at).strftime("%Y%m%d-%H%M")
    return deliver(
        request,
        body=body,
        fmt=fmt,
        filename=f"cylch-chronology-{stamp}.{fmt}",
        object_type="person",
        object_id=access.person.public_id,
        purpose=f"chronology exported ({fmt})",
        row_count=len(chron.entries),
        detail={
            "whole_family": chron.whole_family,
            "entries": len(chron.entries),
            "withheld": chron.withheld,
            "event_ids": [str(e.event.public_id) for e in chron.entries],
            "filters": filters.urlencode(),
        },
        back_url=f"{reverse('chronology:chronology', args=[access.person.public_id])}?{filters.urlencode()}",
    )


@require_POST
def mark_significant(request, public_id, event_id):
    access = open_person(request, public_id)
    form = MarkForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        mark = significance_toggle(access=access, user=request.user, event_id=event_id, note=note)
    except PermissionDenied:
        messages.error(request, _("You cannot change the mark on that entry."))
    else:
        messages.success(request, _("Marked as significant.") if mark else _("No longer marked as significant."))
    back = request.POST.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(f"{back}#entry-{event_id}")
    return redirect("chronology:chronology", public_id=public_id)


def voice_page(request, public_id):
    access = open_person(request, public_id)
    if access.person.public_id != public_id:
        return redirect("chronology:voice", public_id=access.person.public_id)
    heard = voice.voice_of(access)
    audit_from_request(
        request,
        action="read",
        object_type="person",
        object_id=access.person.public_id,
        purpose="child's voice viewed",
        detail={"entries": len(heard.captures), "wishes": len(heard.wishes)},
    )
    return render(
        request,
        "chronology/voice.html",
        {
            "access": access,
            "person": access.person,
            "age": age_on(access.person.date_of_birth, timezone.localdate()),
            "voice": heard,
            "may_record": voice.may_record(access),
        },
    )


def voice_new(request, public_id):
    access = open_person(request, public_id)
    if not voice.may_record(access):
        raise PermissionDenied
    form = VoiceForm(request.POST or None, initial={"occurred_on": timezone.localdate().strftime("%d/%m/%Y")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        day = d["occurred_on"]
        now = timezone.localtime()
        at = now if day == now.date() else timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 12))
        try:
            voice.record_voice(
                access=access,
                user=request.user,
                kind=d["kind"],
                words=d["words"],
                occurred_at=at,
                capture=form.capture(),
                topic=d["topic"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Saved on the child's record."))
            notice = register_notices([access.person]).get(access.person.pk)
            if notice is not None and notice.worker_id != request.user.pk:
                messages.warning(request, notice.sentence(access.person.display_name, get_language() or "en"))
            return redirect("chronology:voice", public_id=access.person.public_id)
    return render(
        request,
        "chronology/voice_form.html",
        {"person": access.person, "form": form, "form_errors": form_errors(form) if form.errors else []},
    )


def wish_respond(request, public_id, wish_id):
    access = open_person(request, public_id)
    if not voice.may_record(access):
        raise PermissionDenied
    heard = voice.voice_of(access)
    wish = next((w for w in heard.wishes if w.entry.event.public_id == wish_id and not w.entry.withheld), None)
    if wish is None:
        raise Http404
    form = ResponseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        voice.respond_to_wish(
            access=access,
            user=request.user,
            wish_id=str(wish_id),
            what_we_did=d["what_we_did"],
            outcome=d["outcome"],
            child_told=d["child_told"] == "yes",
            follow_up_on=d["follow_up_on"],
        )
        messages.success(request, _("Your response is saved with the wish."))
        return redirect("chronology:voice", public_id=access.person.public_id)
    return render(
        request,
        "chronology/wish_respond.html",
        {
            "person": access.person,
            "wish": wish,
            "form": form,
            "form_errors": form_errors(form) if form.errors else [],
        },
    )


def story_edit(request, public_id):
    access = open_person(request, public_id)
    if not voice.may_record(access):
        raise PermissionDenied
    heard = voice.voice_of(access)
    current = heard.story.summary if heard.story and heard.story_level == "C" else ""
    form = StoryForm(request.POST or None, initial={"summary": current})
    if request.method == "POST" and form.is_valid():
        voice.story_save(access=access, user=request.user, summary=form.cleaned_data["summary"])
        messages.success(request, _("The child's story is saved. Earlier versions are kept."))
        return redirect("chronology:voice", public_id=access.person.public_id)
    return render(
        request,
        "chronology/story_form.html",
        {"person": access.person, "form": form, "form_errors": form_errors(form) if form.errors else []},
    )
