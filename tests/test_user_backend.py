"""Reading the signed-in user back: with their organisation, in one query."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from cylch.access.backends import UserBackend
from cylch.access.models import User


def test_the_user_is_read_with_their_organisation_in_one_query(prydderch):
    gwen = prydderch.staff.social_worker
    with CaptureQueriesContext(connection) as queries:
        user = UserBackend().get_user(gwen.pk)
        assert user == gwen
        assert user.organisation.code == prydderch.orgs.childrens_services.code
    assert len(queries.captured_queries) == 1


def test_a_user_made_inactive_or_removed_is_no_longer_read(prydderch):
    gwen = prydderch.staff.social_worker
    User.objects.filter(pk=gwen.pk).update(is_active=False)
    assert UserBackend().get_user(gwen.pk) is None
    assert UserBackend().get_user(10**9) is None


def test_a_session_signed_in_through_djangos_own_backend_still_reads_the_user(prydderch, client):
    """Sessions name the backend that signed them in: those signed in before this backend existed
    stay signed in, and a page opens for them."""
    gwen = prydderch.staff.social_worker
    client.force_login(gwen, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/search/")
    assert response.status_code == 200
    assert response.wsgi_request.user == gwen


def test_signing_in_through_the_form_names_this_backend(prydderch, client, demo_hub):
    gwen = prydderch.staff.social_worker
    gwen.set_password("Llanbadarn-Fawr-2026-heulwen")
    gwen.save(update_fields=["password"])
    response = client.post("/sign-in/", {"username": gwen.username, "password": "Llanbadarn-Fawr-2026-heulwen"})
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "cylch.access.backends.UserBackend"
    assert client.get("/search/").wsgi_request.user == gwen
