"""The hub's own pages for "not found", "not allowed" and a server error: in the user's language,
saying what to do next, and nothing of the record that was asked for."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse


def test_a_page_that_does_not_exist_says_so_in_the_hubs_own_words(prydderch, client):
    client.force_login(prydderch.staff.gp)
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404 and "Page not found" in page and "Go to the start page" in page
    assert "govuk-header" in page  # the hub's layout, not the server's bare default


def test_it_speaks_welsh_to_a_welsh_reader(prydderch, client):
    client.force_login(prydderch.staff.gp)
    client.cookies["cylch_language"] = "cy"
    page = client.get("/no-such-page/").content.decode()
    assert 'lang="cy"' in page and "Heb ddod o hyd i'r dudalen" in page


def test_a_refusal_gives_its_reason_and_what_to_do(prydderch, client, demo_hub):
    """Children's services of another authority cannot receive a child who does not live there."""
    client.force_login(prydderch.staff.other_la_social_worker)
    url = reverse("protection:transfer-in", args=[prydderch.alys.public_id])
    response = client.post(url, {"told_on": "01/12/2026", "from_local_authority": "Ceredigion"})
    page = response.content.decode()
    assert response.status_code == 403 and "You cannot do this" in page
    assert "does not hold an address for this child in your authority" in page and "team manager" in page


@pytest.mark.parametrize("template", ["500.html"])
def test_the_server_error_page_stands_alone_in_both_languages(template):
    """Rendered with no request and no context processors (Django's server error view), and with
    no inline script or style (the content security policy)."""
    page = render_to_string(template)
    assert "Sorry, there is a problem with Cylch" in page and "Mae'n ddrwg gennym, mae problem gyda Cylch" in page
    assert "999" in page and "<script" not in page and "style=" not in page
