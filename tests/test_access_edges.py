"""Holes the route matrix (test_route_matrix.py) found at the edge, each pinned by its own test.

Search showed every match's NHS number, and ran for roles that may not open person records
at all.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from cylch.access.models import AuditEntry
from cylch.access.roles import OrganisationKind, Role
from tests import factories

pytestmark = pytest.mark.django_db


def _signed_in(client, user):
    client.force_login(user)
    client.cookies["cylch_language"] = "en"
    return client


# --- search ----------------------------------------------------------------------------------------


def test_outside_the_childs_circle_search_finds_her_but_withholds_her_nhs_number(prydderch, client, demo_hub):
    """Ceredigion's health visitors do not know Efa: they see her name and date of birth (as her
    record's page shows them) but not her NHS number; Carmarthenshire, whose child she is, does."""
    page = _signed_in(client, prydderch.staff.health_visitor).get(reverse("identity:search"), {"name": "Efa Morgan"})
    html = page.content.decode()
    assert "Efa Morgan" in html and "21 August 2014" in html
    assert factories.NHS["efa"] not in html and "Withheld" in html
    carms = _signed_in(client, prydderch.staff.other_la_social_worker)
    assert factories.NHS["efa"] in carms.get(reverse("identity:search"), {"name": "Efa Morgan"}).content.decode()


def test_an_nhs_number_the_searcher_typed_is_shown_back(prydderch, client, demo_hub):
    page = _signed_in(client, prydderch.staff.health_visitor).get(
        reverse("identity:search"), {"nhs_number": factories.NHS["efa"]}
    )
    assert factories.NHS["efa"] in page.content.decode()


@pytest.mark.parametrize(
    ("role", "start"),
    [(Role.BOARD_ANALYST, "insight:index"), (Role.REVIEW_PANEL, "reviews:board"), (Role.ADMIN, "admin:index")],
)
def test_roles_that_open_no_person_records_search_nobody(prydderch, client, demo_hub, role, start):
    """An analyst, a review panel member or an administrator is sent to their own start page:
    no search runs, so none is audited and no name, date of birth or NHS number is shown."""
    org = factories.organisation(code=f"{role}-org", kind=OrganisationKind.SAFEGUARDING_BOARD)
    user = factories.demo_practitioner(username=f"edge-{role}", role=role, organisation=org)
    response = _signed_in(client, user).get(reverse("identity:search"), {"name": "Alys Prydderch"})
    assert response.status_code == 302 and response["Location"] == reverse(start)
    assert not AuditEntry.objects.filter(action="search").exists()


def test_an_analyst_signing_in_starts_at_the_figures(prydderch, client, demo_hub):
    """Sign-in's default next page is search; for a role that cannot search it is their own start."""
    org = factories.organisation(code="edge-board", kind=OrganisationKind.SAFEGUARDING_BOARD)
    factories.demo_practitioner(username="edge.analyst", role=Role.BOARD_ANALYST, organisation=org, password="x" * 12)
    response = client.post(reverse("access:sign-in"), {"username": "edge.analyst", "password": "x" * 12})
    assert response.status_code == 302 and response["Location"] == reverse("insight:index")
