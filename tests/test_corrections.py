"""Events are append-only: a correction is a new event that supersedes the old one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cylch.access.models import AuditEntry
from cylch.access.selectors import Viewer, access_person, visible_events
from cylch.events.models import Event
from cylch.events.services import event_correct
from tests import factories


@pytest.fixture
def missed(prydderch) -> Event:
    """The GP records that Twm was not brought to an appointment, with the wrong service."""
    return factories.event(
        organisation=prydderch.orgs.gp,
        person=prydderch.twm,
        code="health.appointment.was_not_brought",
        details={"service": "dental"},
        summary="Not brought to the dentist",
        recorded_by=prydderch.staff.gp,
        occurred_at=factories.at("2026-10-05", 11),
    )


def chronology(prydderch, user, person) -> list[Event]:
    return [v.event for v in visible_events(access_person(Viewer.for_user(user), person.public_id))]


def test_a_correction_supersedes_and_keeps_the_original(prydderch, missed):
    """The correction is a new event that names the original; the original is kept unchanged,
    and the correction is audited as such."""
    correction = event_correct(
        original=missed,
        recorded_by=prydderch.staff.gp,
        details={"service": "gp"},
        summary="Not brought to the GP",
    ).event
    assert correction.pk != missed.pk and correction.supersedes == missed
    assert (correction.code, correction.occurred_at, correction.person) == (
        missed.code,
        missed.occurred_at,
        missed.person,
    )
    assert correction.organisation == missed.organisation and correction.sensitivity == missed.sensitivity
    missed.refresh_from_db()
    assert missed.summary == "Not brought to the dentist" and missed.details == {"service": "dental"}
    assert Event.objects.filter(person=prydderch.twm).count() == 2
    entry = AuditEntry.objects.get(object_type="event", object_id=str(correction.public_id))
    assert entry.purpose == "event corrected"


def test_the_chronology_shows_the_correction_not_the_superseded_original(prydderch, missed):
    """Everyone reading Twm's record sees the corrected entry in the original's place, once."""
    correction = factories.corrected_event(missed, recorded_by=prydderch.staff.gp, summary="Not brought to the GP")
    for reader in (prydderch.staff.gp, prydderch.staff.social_worker, prydderch.staff.housing_officer):
        events = chronology(prydderch, reader, prydderch.twm)
        assert events == [correction], reader.username


def test_the_person_page_shows_the_correction_marked_as_such(prydderch, missed, client, demo_hub):
    """On the page the GP sees the corrected summary, marked "Corrected", and not the original text."""
    factories.corrected_event(missed, recorded_by=prydderch.staff.gp, summary="Not brought to the GP")
    client.force_login(prydderch.staff.gp)
    html = client.get(reverse("identity:person", args=[prydderch.twm.public_id])).content.decode()
    assert "Not brought to the GP" in html and "Corrected" in html
    assert "Not brought to the dentist" not in html


def test_correcting_an_already_corrected_event_is_refused(prydderch, missed):
    """Only the latest version can be corrected: a second correction of the original is refused
    (keyed ``supersedes``) and stores nothing; correcting the correction works."""
    first = factories.corrected_event(missed, summary="Not brought to the GP")
    before = Event.objects.count()
    with pytest.raises(ValidationError) as exc:
        event_correct(original=missed, recorded_by=prydderch.staff.gp, summary="Another go")
    assert "supersedes" in exc.value.message_dict
    assert Event.objects.count() == before

    second = event_correct(
        original=first, recorded_by=prydderch.staff.gp, summary="Not brought to the GP surgery"
    ).event
    assert second.supersedes == first
    assert chronology(prydderch, prydderch.staff.gp, prydderch.twm) == [second]


def test_a_correction_is_checked_against_the_taxonomy_like_any_event(prydderch, missed):
    """A correction with details outside the code's schema is refused and nothing is stored."""
    before = Event.objects.count()
    with pytest.raises(ValidationError) as exc:
        event_correct(original=missed, recorded_by=prydderch.staff.gp, details={"service": "spaceship"})
    assert "details.service" in exc.value.message_dict
    assert Event.objects.count() == before
