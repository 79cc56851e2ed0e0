"""``core.bulk.new_row``: the instance Django's keyword construction would build, field for
field, for the rows a batch builds before inserting them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.forms.models import model_to_dict

from cylch.core.bulk import insert_rows, new_row
from cylch.events.models import Event, Source
from cylch.identity.models import Person
from cylch.reviews.models import Review
from tests import factories

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def _values(fam) -> dict:
    return {
        "code": "health.appointment.was_not_brought",
        "person": fam.alys,
        "organisation": fam.orgs.gp,
        "household_id": fam.home.pk,  # a related row by its id
        "recorder_name": "Dr Rhys",
        "occurred_at": AT,
        "recorded_at": AT,
        "sensitivity": "standard",
        "summary": "Not brought to the clinic.",
        "details": {"clinic": "Llanelli"},
        "external_id": "new-row-1",
        "fingerprint": "f" * 64,
        "source": Source.API,
    }


def test_the_same_instance_as_keyword_construction():
    fam = factories.prydderch_household()
    built, django = new_row(Event, **_values(fam)), Event(**_values(fam))
    assert model_to_dict(built, exclude=["public_id"]) == model_to_dict(django, exclude=["public_id"])
    for field in Event._meta.concrete_fields:
        if field.name != "public_id":
            assert getattr(built, field.attname) == getattr(django, field.attname), field.name
    # Defaults are each row's own, as Django's are: a new public id each time.
    assert built.public_id and built.public_id != django.public_id != new_row(Event, **_values(fam)).public_id
    assert built.pk is None and built._state.adding and built.recorder_role == "" and built.supersedes_id is None


def test_related_objects_are_cached_and_the_row_inserts():
    fam = factories.prydderch_household()
    event = new_row(Event, **_values(fam))
    assert event.person is fam.alys and event.organisation is fam.orgs.gp
    insert_rows(Event, [event])
    stored = Event.objects.get(pk=event.pk)
    assert (stored.person_id, stored.household_id, stored.organisation_id) == (fam.alys.pk, fam.home.pk, fam.orgs.gp.pk)
    assert stored.public_id == event.public_id and stored.details == {"clinic": "Llanelli"}


def test_an_unsaved_related_object_gives_its_id_once_stored():
    """As with Django's construction: no id yet, and assigning the object again once it is saved
    takes its id (how a batch's new people reach their events)."""
    fam = factories.prydderch_household()
    baby = Person(given_name="Nia", family_name="Prydderch")
    event = new_row(Event, **{**_values(fam), "person": baby})
    assert event.person_id is None and event.person is baby
    baby.save()
    event.person = event.person
    assert event.person_id == baby.pk


def test_a_name_that_is_not_a_field_is_refused():
    fam = factories.prydderch_household()
    with pytest.raises(TypeError, match="no field named colour, hue"):
        new_row(Event, **_values(fam), colour="red", hue=3)


def test_a_model_with_a_one_to_one_field_is_refused():
    """Its reverse side keeps a cache too, which only Django's construction sets."""
    with pytest.raises(ValueError, match="one-to-one"):
        new_row(Review)
