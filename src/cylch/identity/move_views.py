"""Recording a move to an address an agency gave (docs/identity.md, "Households from agency addresses").

Cylch never moves someone on an agency's address by itself: the person page shows a newer address
that differs, and children's services at the front door (front door, social worker, team manager)
confirm the move here. Thin: open the person, find the address shown, call
``identity.households.moves.move_to_agency_address``, log the read.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.audit import audit_from_request
from cylch.access.roles import FRONT_DOOR_ROLES
from cylch.identity.households.moves import destination, differing_address, move_to_agency_address
from cylch.identity.views import open_person


def move(request, public_id, record_id):
    """GET: what the move would be, to confirm. POST: record it."""
    if request.user.role not in FRONT_DOOR_ROLES:
        raise PermissionDenied(_("Moves are recorded by children's services."))
    access = open_person(request, public_id)
    person = access.person
    # Only someone who may see the person's address may see the one an agency gave; the rest get
    # what an address nobody gave gets (absent and forbidden look alike).
    found = differing_address(person, record_id) if access.may_see_demographics else None
    if found is None:
        raise Http404(_("No such address to move this person to."))
    if request.method == "POST":
        try:
            membership = move_to_agency_address(
                person=person, record=found.record, shown=request.POST.get("shown", ""), actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("%(name)s now lives at %(household)s.")
                % {"name": person.display_name, "household": membership.household},
            )
        return redirect("identity:person", public_id=person.public_id)
    household, authority = destination(found.record)
    current = found.household
    audit_from_request(
        request, action="read", object_type="person", object_id=person.public_id, purpose="move to an agency address viewed",
        detail={"record": str(found.record.public_id)},
    )  # fmt: skip
    return render(
        request,
        "identity/move_confirm.html",
        {
            "person": person,
            "found": found,
            "organisation": found.record.organisation.name(get_language()),
            "current": current,
            "household": household,
            "authority": authority,
            "other_authority": authority is not None and authority != current.local_authority,
            "authority_unknown": authority is None and current.local_authority is not None,
            "current_authority": current.local_authority.name(get_language()) if current.local_authority else "",
        },
    )
