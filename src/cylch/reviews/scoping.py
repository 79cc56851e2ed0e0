"""Who sees which reviews: a regional board's review sub-group its own board's; the National
Independent Safeguarding Board all of Wales, to read (TA rec. 2.3: a cross-board view)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from cylch.access.roles import OrganisationKind
from cylch.reviews.models import Review
from cylch.reviews.services import BOARD_ROLES


def board_scope(user):
    """The user's board area, or None for the national board. Anyone else is refused."""
    org = getattr(user, "organisation", None)
    if user.role not in BOARD_ROLES or org is None:
        raise PermissionDenied
    if org.board_area_id is not None:
        return org.board_area
    if org.kind == OrganisationKind.NATIONAL_BOARD:
        return None
    raise PermissionDenied


def review_for(user, review_id, *, write: bool = False) -> Review:
    """A review the user may see (404 otherwise); ``write`` needs the review's own board."""
    area = board_scope(user)
    qs = Review.objects.select_related("referral__board_area", "referral__child")
    if area is not None:
        qs = qs.filter(referral__board_area=area)
    try:
        review = qs.get(public_id=review_id)
    except (Review.DoesNotExist, ValueError):
        raise Http404 from None
    if write and area is None:
        raise PermissionDenied
    return review
