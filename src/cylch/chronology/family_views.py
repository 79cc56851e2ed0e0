"""The family network page. Thin: open the child through the access choke point, build the
network, draw it, log the read."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe

from cylch.access.audit import audit_from_request
from cylch.chronology import network_svg
from cylch.chronology.family import family_of
from cylch.chronology.network import network_of
from cylch.identity.views import open_person


def family(request, public_id):
    access = open_person(request, public_id, family=family_of)
    child = access.person
    if child.public_id != public_id:  # merged into someone else: show them at their own address
        return redirect("chronology:family", public_id=child.public_id)
    network = network_of(access, access.family)
    audit_from_request(
        request,
        action="read",
        object_type="person",
        object_id=child.public_id,
        purpose="family network viewed",
        detail={
            "relationship": access.relationship.value,
            "break_glass": bool(access.break_glass),
            "members": len(network.members),
            "named": sum(1 for m in network.members if m.named),
            "withheld": network.withheld,
        },
    )
    return render(
        request,
        "chronology/family.html",
        {
            "access": access,
            "child": child,
            "network": network,
            # Safe: network_svg escapes every piece of text it draws.
            "diagram": mark_safe(network_svg.render(network)),
        },
    )
