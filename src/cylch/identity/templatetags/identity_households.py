"""The person page's notice of an agency address that differs from the household Cylch holds.

A tag rather than the view's context so the notice is computed only where it is shown, and only
for a viewer who may see the person's address (``PersonAccess.may_see_demographics``)."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language

from cylch.access.roles import FRONT_DOOR_ROLES
from cylch.identity.households import differing_addresses

register = template.Library()


@register.inclusion_tag("identity/_address_notices.html")
def address_notices(access):
    """``{% address_notices access %}``: each newer, different agency address, with the action to
    record the move for children's services at the front door (``identity.move_views``)."""
    if not access.may_see_demographics:
        return {"notices": []}
    return {
        "notices": [(d, d.record.organisation.name(get_language())) for d in differing_addresses(access.person)],
        "person": access.person,
        "may_move": access.viewer.role in FRONT_DOOR_ROLES,
    }
