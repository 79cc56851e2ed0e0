"""A page that comes back with errors says so first in its title ("Error: ..."), as GOV.UK asks,
so a screen reader hears it before anything else; once, whichever page it is."""

from __future__ import annotations

import re

from django.urls import reverse


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


def test_sign_in_with_empty_boxes(db, client, real_hub):
    assert title(client.get("/sign-in/")) == "Sign in – Cylch"
    assert title(client.post("/sign-in/", {"username": "", "password": ""})) == "Error: Sign in – Cylch"


def test_a_search_with_an_impossible_date_says_it_once(prydderch, client, demo_hub):
    """The search page wrote its own "Error:" before: now the base page does, and only once."""
    client.force_login(prydderch.staff.social_worker)
    search = client.get(reverse("identity:search"), {"dob_day": "31", "dob_month": "2", "dob_year": "2019"})
    assert title(search) == "Error: Find a person – Cylch"
