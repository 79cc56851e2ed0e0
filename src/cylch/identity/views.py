"""Person search and the person page. Thin: parse, call a selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request, client_ip
from cylch.access.policy import Relationship
from cylch.access.roles import CASEWORK_ROLES, FRONT_DOOR_ROLES
from cylch.access.selectors import PersonNotFound, Viewer, access_person, may_see_demographics_of
from cylch.access.services import break_glass_open
from cylch.access.views import start_url
from cylch.chronology.family import family_of
from cylch.chronology.voice import voice_of
from cylch.core.forms import form_errors
from cylch.identity.forms import BreakGlassForm, PersonSearchForm
from cylch.identity.households.moves import differing_addresses
from cylch.identity.selectors import (
    age_on,
    agency_records_of,
    current_household,
    household_members,
    person_search,
    relationships_of,
)
from cylch.identity.validators import normalise_nhs_number

RECENT_GROUPS = 15


SHOWN = 25  # search results on the page: past these, narrow the search


def search(request):
    if request.user.role not in CASEWORK_ROLES:
        # Analysts, review panels and administrators do not open person records, so they do not
        # look people up either (the index is not theirs to probe): send them to their own start.
        return redirect(start_url(request.user))
    form = PersonSearchForm(request.GET or None)
    hits = None
    if request.GET and form.is_valid():
        data = form.cleaned_data
        # One more than is shown, to know whether the list is cut short and say so.
        hits = person_search(
            name=data["name"], date_of_birth=data["date_of_birth"], nhs_number=data["nhs_number"], limit=SHOWN + 1
        )
        audit_from_request(
            request,
            action="search",
            object_type="person",
            purpose="person search",
            detail={
                "name": data["name"],
                "dob": str(data["date_of_birth"] or ""),
                "nhs": data["nhs_number"],
                "results": min(len(hits), SHOWN),
                "more": len(hits) > SHOWN,
            },
        )
    today = timezone.localdate()
    more = hits is not None and len(hits) > SHOWN
    people = [h.person for h in (hits or [])[:SHOWN]]
    # The NHS number only where the person's record would show it, or the searcher typed it.
    typed = normalise_nhs_number(form.cleaned_data["nhs_number"]) if hits is not None else ""
    details = may_see_demographics_of(Viewer.for_user(request.user), people)
    details |= {p.pk for p in people if typed and p.nhs_number == typed}
    rows = [(p, age_on(p.date_of_birth, today)) for p in people]
    return render(
        request,
        "identity/search.html",
        {
            "form": form,
            "form_errors": form_errors(form) if request.GET else [],
            "rows": rows,
            "details": details,
            "searched": hits is not None,
            "more": more,
            "shown": SHOWN,
        },
    )


def open_person(request, public_id, *, family=None):
    """The person, as the signed-in user may see them, or 404 (absent and forbidden look alike).

    Every page about one person opens it here: the record, its chronology, family and voice. A
    page that shows the family passes ``family_of`` (``access_person``: the standing to every
    member is then read with the person's).
    """
    try:
        return access_person(Viewer.for_user(request.user), public_id, family=family)
    except PersonNotFound:
        raise Http404(_("No person with that reference, or you may not open person records.")) from None


def person(request, public_id):
    access = open_person(request, public_id, family=family_of)
    person = access.person
    if person.public_id != public_id:  # merged into someone else: show them at their own address
        return redirect("identity:person", public_id=person.public_id)
    # The record opens with the child's story, then the latest of the chronology: the same
    # entries, grouping and access edges as the chronology page, never a second rendering.
    heard = voice_of(access)
    entries = heard.chronology_all.entries
    withheld = sum(1 for e in entries if e.withheld)
    household = current_household(person)
    today = timezone.localdate()
    context = {
        "access": access,
        "person": person,
        "age": age_on(person.date_of_birth, today),
        "entries": entries,
        "groups": heard.chronology_all.groups[:RECENT_GROUPS],
        "chron": heard.chronology_all,
        "voice": heard,
        "withheld": withheld,
        "records": agency_records_of(person),
        "household": household if access.may_see_demographics else None,
        "members": [(m, age_on(m.date_of_birth, today)) for m in household_members(household) if m.pk != person.pk]
        if access.may_see_demographics
        else [],
        "relationships": relationships_of(person) if access.may_see_demographics else [],
        # A newer agency address than the home Cylch holds: shown to those who may see addresses,
        # with the move for children's services at the front door (identity/move_views.py).
        "address_notices": [(d, d.record.organisation.name(get_language())) for d in differing_addresses(person)]
        if access.may_see_demographics
        else [],
        "may_move": request.user.role in FRONT_DOOR_ROLES,
        "outside_circle": access.relationship == Relationship.NONE and access.break_glass is None,
        "break_glass_form": BreakGlassForm(),
    }
    audit_from_request(
        request,
        action="read",
        object_type="person",
        object_id=person.public_id,
        purpose="person record viewed",
        detail={
            "relationship": access.relationship.value,
            "break_glass": bool(access.break_glass),
            "entries": len(entries),
            "withheld": withheld,
        },
    )
    return render(request, "identity/person.html", context)


@require_POST
def break_glass(request, public_id):
    access = open_person(request, public_id)
    form = BreakGlassForm(request.POST)
    if form.is_valid():
        break_glass_open(
            user=request.user, person=access.person, reason=form.cleaned_data["reason"], ip_address=client_ip(request)
        )
        messages.warning(
            request, _("Break-glass access is on for 4 hours. Your organisation's safeguarding lead has been told.")
        )
        return redirect("identity:person", public_id=public_id)
    messages.error(request, form.errors["reason"][0])
    return redirect("identity:person", public_id=public_id)
