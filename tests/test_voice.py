"""The child's voice: each wish gets a response and a follow-up, the story opens the record,
and the seen-alone measure counts children, not entries."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.models import ChildStory
from cylch.chronology.voice import seen_alone_measure, voice_of
from cylch.events.models import Event
from tests import factories


def _voice(user, person):
    return voice_of(access_person(Viewer.for_user(user), person.public_id))


def _record(client, person, **fields):
    data = {
        "kind": "wish",
        "words": "I want to see my sister Efa at the weekends",
        "topic": "sibling_contact",
        "occurred_on": timezone.localdate().strftime("%d/%m/%Y"),
        "seen_alone": "yes",
        "location": "school",
        "method": "conversation",
        "language": "cy",
        "advocate_present": "no",
    }
    data.update(fields)
    return client.post(reverse("chronology:voice-new", args=[person.public_id]), data)


def test_a_wish_is_recorded_in_the_childs_words_with_how_it_was_heard(prydderch, client, demo_hub):
    p = prydderch
    client.force_login(p.staff.school_lead)
    response = _record(client, p.alys)
    assert response.status_code == 302
    event = Event.objects.get(code="voice.wish.expressed", person=p.alys)
    assert event.summary == "I want to see my sister Efa at the weekends"
    assert event.details == {
        "seen_alone": True,
        "location": "school",
        "method": "conversation",
        "language": "cy",
        "advocate_present": False,
        "response_due": True,
        "topic": "sibling_contact",
    }
    heard = _voice(p.staff.school_lead, p.alys)
    assert [w.entry.event.pk for w in heard.open_wishes] == [event.pk]
    assert heard.seen_alone == 1


def test_the_wish_response_loop_closes_only_when_something_was_done(prydderch, client, demo_hub):
    p = prydderch
    client.force_login(p.staff.school_lead)
    _record(client, p.alys)
    wish = Event.objects.get(code="voice.wish.expressed", person=p.alys)
    url = reverse("chronology:wish-respond", args=[p.alys.public_id, wish.public_id])
    # Still being looked at, with no date to come back: refused, naming the field.
    response = client.post(
        url, {"what_we_did": "Asked Carmarthenshire", "outcome": "under_consideration", "child_told": "yes"}
    )
    assert response.status_code == 200
    assert "Give a date to come back to this wish" in response.content.decode()
    assert not Event.objects.filter(code="voice.wish.response").exists()
    follow = timezone.localdate() + timedelta(days=14)
    client.post(
        url,
        {
            "what_we_did": "Asked Carmarthenshire social services about contact",
            "outcome": "under_consideration",
            "child_told": "yes",
            "follow_up_on": follow.strftime("%d/%m/%Y"),
        },
    )
    heard = _voice(p.staff.school_lead, p.alys)
    assert len(heard.open_wishes) == 1
    assert heard.open_wishes[0].follow_up_on == follow
    assert not heard.open_wishes[0].overdue
    client.post(url, {"what_we_did": "Contact agreed every other Saturday", "outcome": "acted_on", "child_told": "yes"})
    heard = _voice(p.staff.school_lead, p.alys)
    assert heard.open_wishes == []
    wish_view = heard.wishes[0]
    assert [r.event.summary for r in wish_view.responses] == [
        "Asked Carmarthenshire social services about contact",
        "Contact agreed every other Saturday",
    ]
    assert all(r.event.details["wish"] == str(wish.public_id) for r in wish_view.responses)
    # The social worker sees the same loop on the voice page.
    client.force_login(p.staff.social_worker)
    html = client.get(reverse("chronology:voice", args=[p.alys.public_id])).content.decode()
    assert "Contact agreed every other Saturday" in html and "No wishes are waiting for an answer." in html


def test_an_open_wish_past_its_follow_up_date_shows_as_overdue(prydderch, client, demo_hub):
    p = prydderch
    wish = factories.event(
        organisation=p.orgs.school,
        person=p.alys,
        code="voice.wish.expressed",
        details={"topic": "school"},
        summary="More help with reading",
    )
    factories.event(
        organisation=p.orgs.school,
        person=p.alys,
        code="voice.wish.response",
        details={"outcome": "under_consideration", "wish": str(wish.public_id), "follow_up_on": "2026-10-05"},
        occurred_at=factories.at("2026-10-02"),
        summary="Asked the reading specialist",
    )
    heard = _voice(p.staff.school_lead, p.alys)
    assert heard.open_wishes[0].overdue
    client.force_login(p.staff.school_lead)
    html = client.get(reverse("chronology:voice", args=[p.alys.public_id])).content.decode()
    assert "Follow-up was due 5 October 2026" in html


def test_a_response_must_name_a_wish_of_this_child(prydderch, client, demo_hub):
    p = prydderch
    other = factories.event(
        organisation=p.orgs.school, person=p.alys, code="voice.wish.expressed", details={}, summary="x"
    )
    client.force_login(p.staff.social_worker)
    url = reverse("chronology:wish-respond", args=[p.twm.public_id, other.public_id])
    assert client.get(url).status_code == 404


def test_withheld_voice_entries_are_listed_but_not_read(prydderch, client, demo_hub):
    """Housing sees that the child's voice was recorded and whom to ask, not the words."""
    p = prydderch
    factories.event(
        organisation=p.orgs.school,
        person=p.alys,
        code="voice.lived_experience",
        details={"seen_alone": True},
        summary="Mam cries a lot",
    )
    factories.event(
        organisation=p.orgs.housing,
        person=p.alys,
        code="housing.conditions.poor",
        details=factories.minimal_details("housing.conditions.poor"),
    )
    client.force_login(p.staff.housing_officer)
    html = client.get(reverse("chronology:voice", args=[p.alys.public_id])).content.decode()
    assert "Mam cries a lot" not in html
    assert "1 entry in this child's record is withheld from you" in html


def test_the_story_is_versioned_and_opens_the_voice_page(prydderch, client, demo_hub):
    p = prydderch
    client.force_login(p.staff.social_worker)
    url = reverse("chronology:story", args=[p.alys.public_id])
    assert "Write the child" in client.post(url, {"summary": "  "}).content.decode()
    client.post(url, {"summary": "Alys is seven, loves horses and her little brother."})
    client.post(url, {"summary": "Alys is seven. She loves horses, and worries about Mam."})
    assert ChildStory.objects.filter(child=p.alys).count() == 2
    html = client.get(reverse("chronology:voice", args=[p.alys.public_id])).content.decode()
    assert "worries about Mam" in html and "her little brother" not in html
    assert AuditEntry.objects.filter(purpose="child's story written").count() == 2


def test_someone_with_no_standing_cannot_write_to_the_voice_record(prydderch, client, demo_hub):
    from cylch.access.roles import OrganisationKind, Role

    org = factories.organisation(code="T3-NONE", kind=OrganisationKind.THIRD_SECTOR, name_en="Elsewhere Trust")
    stranger = factories.demo_practitioner(username="stranger", role=Role.THIRD_SECTOR_WORKER, organisation=org)
    client.force_login(stranger)
    assert _record(client, prydderch.alys).status_code == 403
    assert (
        client.post(reverse("chronology:story", args=[prydderch.alys.public_id]), {"summary": "x"}).status_code == 403
    )
    assert not Event.objects.filter(code__startswith="voice.").exists()


def test_seen_alone_measure_counts_children_not_entries(prydderch):
    p = prydderch
    for _ in range(3):
        factories.event(
            organisation=p.orgs.school, person=p.alys, code="voice.lived_experience", details={"seen_alone": True}
        )
    factories.event(
        organisation=p.orgs.health_visiting, person=p.twm, code="voice.lived_experience", details={"seen_alone": False}
    )
    day = factories.at("2026-10-01").date()
    assert seen_alone_measure(day, day) == {"children_heard": 2, "children_seen_alone": 1}
    assert seen_alone_measure(day, day, local_authority_id=p.places.carmarthenshire.pk) == {
        "children_heard": 0,
        "children_seen_alone": 0,
    }
