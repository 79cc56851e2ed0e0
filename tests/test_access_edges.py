"""Holes the route matrix (test_route_matrix.py) found at the edge, each pinned by its own test.

Search showed every match's NHS number, and ran for roles that may not open person records
at all; the matching queue showed every authority's record pairs to every authority; the admin
showed anyone's authenticator secret (and failed on an unknown device id).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from cylch.access.models import AuditEntry
from cylch.access.roles import OrganisationKind, Role
from cylch.identity.linking import review_raise
from cylch.identity.models import AgencyRecord, MatchReview, ReviewReason, ReviewStatus
from cylch.identity.services import agency_record_upsert
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


# --- the matching queue ------------------------------------------------------------------------------


def _pair(organisation, family_name: str) -> MatchReview:
    """Two records of one organisation that might be one child, waiting for a person."""
    for n in (1, 2):
        agency_record_upsert(organisation=organisation, local_id=f"EDGE-{family_name}-{n}",
                             data={"given_name": "Elin", "family_name": family_name, "date_of_birth": f"2017-05-0{n}"})  # fmt: skip
    a, b = sorted(
        AgencyRecord.objects.get(organisation=organisation, local_id=f"EDGE-{family_name}-{n}").pk for n in (1, 2)
    )
    return review_raise(record_a=a, record_b=b, weight=2.0, probability=0.8, model_version="edge",
                        reason=ReviewReason.UNCERTAIN) or MatchReview.objects.get(record_a_id=a, record_b_id=b)  # fmt: skip


def test_a_reviewer_sees_only_their_own_authoritys_pairs(prydderch, client, demo_hub, settings):
    """Both records' names, dates of birth and addresses are on a task's page: Carmarthenshire's
    social worker neither lists nor opens nor decides a pair Ceredigion's school holds."""
    settings.CYLCH_ONLINE_LINKAGE = False
    review = _pair(prydderch.orgs.school, "Tregaronydd")
    carms = _signed_in(client, prydderch.staff.other_la_social_worker)
    assert "Tregaronydd" not in carms.get(reverse("identity:review-queue")).content.decode()
    assert carms.get(reverse("identity:review-detail", args=[review.pk])).status_code == 404
    decide = reverse("identity:review-decide", args=[review.pk])
    assert carms.post(decide, {"decision": "different", "note": "Not ours"}).status_code == 404
    review.refresh_from_db()
    assert review.status == ReviewStatus.OPEN

    ceredigion = _signed_in(client, prydderch.staff.social_worker)
    assert "Tregaronydd" in ceredigion.get(reverse("identity:review-queue")).content.decode()
    assert ceredigion.post(decide, {"decision": "different", "note": "Different schools"}).status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.DIFFERENT


def test_a_pair_no_authority_can_claim_is_open_to_every_reviewer(prydderch, client, demo_hub, settings):
    """Records of a national organisation about people nobody has housed: nobody could review
    them if they belonged to no authority, so every authority's reviewers may."""
    settings.CYLCH_ONLINE_LINKAGE = False
    national = factories.organisation(code="edge-national", kind=OrganisationKind.THIRD_SECTOR)
    review = _pair(national, "Nowhereton")
    for user in (prydderch.staff.social_worker, prydderch.staff.other_la_social_worker):
        assert _signed_in(client, user).get(reverse("identity:review-detail", args=[review.pk])).status_code == 200


# --- the Django admin -----------------------------------------------------------------------------


def test_an_administrator_cannot_read_anyones_authenticator_secret(prydderch, client, demo_hub):
    """The set-up page and QR code of someone's authenticator app would let an administrator
    sign in as them: refused, for a real device and for an id that does not exist (which was a
    server error)."""
    admin = factories.demo_practitioner(username="edge.admin", role=Role.ADMIN,
                                        organisation=prydderch.orgs.childrens_services)  # fmt: skip
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    device = factories.confirmed_totp_device(prydderch.staff.social_worker)
    client.force_login(admin)
    for pk in (device.pk, 987654):
        for view in ("config", "qrcode"):
            assert client.get(f"/admin/otp_totp/totpdevice/{pk}/{view}/").status_code == 403, (pk, view)
    change = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert change.status_code == 200 and device.key not in change.content.decode()
    assert device.key not in client.get("/admin/otp_totp/totpdevice/").content.decode()
