"""The person page: filtered by the policy, honest about what is withheld, bilingual, and read
in a fixed number of queries."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cylch.access.roles import Role
from tests import factories


def page_url(person) -> str:
    return reverse("identity:person", args=[person.public_id])


def test_a_withheld_entry_says_who_holds_it_and_whom_to_contact(prydderch, client, demo_hub):
    """The housing officer, outside Alys's circle, sees that the school recorded something and
    how to reach its designated safeguarding person, but not what it was."""
    factories.event(
        organisation=prydderch.orgs.school,
        person=prydderch.alys,
        code=factories.code_with_sensitivity("education"),
        summary="Alys said she was hungry every morning this week",
    )
    client.force_login(prydderch.staff.housing_officer)
    response = client.get(page_url(prydderch.alys))
    html = response.content.decode()
    assert response.context["withheld"] == 1
    assert (
        "Withheld: recorded by Ysgol Glan-y-Môr on 1 October 2026. Contact their Designated safeguarding person" in html
    )
    assert "safeguarding@ysgol-glan-y-mor.example" in html
    assert "hungry" not in html


def test_the_page_is_in_welsh_for_a_welsh_speaker(prydderch, client, demo_hub):
    """With Welsh chosen, an entry's label comes from the taxonomy's Welsh label."""
    factories.event(organisation=prydderch.orgs.gp, person=prydderch.twm, code="health.appointment.was_not_brought")
    client.force_login(prydderch.staff.gp)
    client.cookies["cylch_language"] = "cy"
    html = client.get(page_url(prydderch.twm)).content.decode()
    assert "Plentyn heb ei ddwyn i apwyntiad iechyd" in html
    assert "Child not brought to a health appointment" not in html


def test_non_casework_roles_get_not_found(prydderch, client, demo_hub):
    """A board analyst cannot open a person page: 404, as for a person who does not exist."""
    board = factories.organisation(
        code="bwrdd-diogelu", kind="safeguarding_board", local_authority=prydderch.places.ceredigion
    )
    analyst = factories.demo_practitioner(username="analyst", role=Role.BOARD_ANALYST, organisation=board)
    client.force_login(analyst)
    assert client.get(page_url(prydderch.alys)).status_code == 404


def test_the_page_reads_in_a_fixed_number_of_queries(prydderch, client, demo_hub):
    """The social worker's view of Alys costs the same number of queries with 3 entries as with
    30 from several agencies (no query per entry, organisation or relative)."""
    orgs = [prydderch.orgs.gp, prydderch.orgs.school, prydderch.orgs.police, prydderch.orgs.housing]
    classes = ["health", "education", "police", "housing"]

    def add(n: int, offset: int) -> None:
        for i in range(n):
            factories.event(
                organisation=orgs[i % 4],
                person=prydderch.alys,
                code=factories.code_with_sensitivity(classes[i % 4]),
                occurred_at=factories.at(date(2026, 3, 1) + timedelta(days=offset + i)),
            )

    client.force_login(prydderch.staff.social_worker)
    add(3, 0)
    client.get(page_url(prydderch.alys))  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(page_url(prydderch.alys)).status_code == 200
    add(27, 10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(page_url(prydderch.alys))
    assert len(response.context["entries"]) == 30
    assert len(many.captured_queries) == len(few.captured_queries), [q["sql"] for q in many.captured_queries]
