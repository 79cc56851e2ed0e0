"""The subject access file is complete on the demo: for Elis Bevan (the demo's child on the
register: a process with meetings, a plan, visits and his story, reports, alerts, entries from
four agencies), every row of every Cylch table that points at him is in the file.

The rows are found from the schema, not from a list: every foreign key and many-to-many field
to ``identity.Person`` in every Cylch model. A new table about a person therefore fails here
until the file carries it, or until ``LEFT_OUT`` says why it need not (docs/governance.md,
"People's rights", "Not in it")."""

from __future__ import annotations

from datetime import date

import pytest
from django.apps import apps
from django.db import models

from cylch.access.models import AuditEntry, User
from cylch.access.roles import Role
from cylch.access.services import break_glass_open
from cylch.demo.builder import build
from cylch.governance import retention, rights
from cylch.identity.models import Person
from cylch.protection.models import Invitee
from tests.test_subject_rights import items_of, pdf_parts

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 1)

# Tables about a person that the file leaves out, and why (docs/governance.md, "Not in it").
LEFT_OUT = {
    "identity.FamilyConflict": "working data of the person index: two households' records that disagree",
    "identity.Person.merged_into": "the people merged into them: their records are in the file under this person",
}
# How a row shows in the file when it is not an item of its own (its public id): the item it is part of.
AS_ITEM = {
    "identity.PersonLink": lambda row: str(row.agency_record.public_id),
    "identity.HouseholdMembership": lambda row: str(row.household.public_id),
    "reports.ReportSubject": lambda row: str(row.report.public_id),
    "identity.Relationship": lambda row: f"relationship:{row.pk}",
    "chronology.ChildStory": lambda row: f"story:{row.pk}",
}


def person_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field) of a Cylch app that points at a person."""
    out = []
    for model in apps.get_models():
        if not model.__module__.startswith("cylch."):
            continue
        for f in model._meta.get_fields():
            if (f.many_to_one or f.one_to_one or f.many_to_many) and not f.auto_created and f.related_model is Person:
                out.append((model, f.name))
    return out


def expected_items(person: Person) -> dict[str, str]:
    """item id -> the table and field it was found by."""
    group = [person.pk, *Person.objects.filter(merged_into=person).values_list("pk", flat=True)]
    out: dict[str, str] = {}
    for model, name in person_fields():
        label = model._meta.label
        if label in LEFT_OUT or f"{label}.{name}" in LEFT_OUT:
            continue
        rows = model.objects.filter(**{f"{name}__in": group}).distinct()
        if label == "identity.PersonLink":
            rows = rows.filter(active=True)
        if label == "protection.Invitee":  # invited to a meeting about themselves: that meeting is in the file
            rows = rows.exclude(meeting__episode__child__in=group)
        for row in rows:
            item = AS_ITEM[label](row) if label in AS_ITEM else str(row.public_id)
            out[item] = f"{label}.{name}"
    for seq in AuditEntry.objects.filter(object_id=str(person.public_id)).values_list("seq", flat=True):
        out[f"audit:{seq}"] = "access.AuditEntry.object_id"
    return out


@pytest.fixture
def demo():
    build(seed=2026, persons=400, as_of=AS_OF, events_per_person=3, progress=False)
    return Person.objects.get(given_name="Elis", family_name="Bevan", registrations__isnull=False)


def test_every_row_about_the_demo_child_on_the_register_is_in_his_subject_access_file(demo):
    elis = demo
    manager = User.objects.get(username="team-manager")
    # Records the demo does not make, so that every table about a person has a row about him.
    retention.hold_place(person=elis, reason="Claim about the family's care", reference="CL-2026-1", actor_label="test")
    break_glass_open(
        user=User.objects.get(username=Role.ED_CLINICIAN.value), person=elis, reason="Seen out of hours with an injury"
    )
    expected = expected_items(elis)
    found_by = {source.split(".")[1] for source in expected.values()}
    assert {"Event", "Episode", "PersonLink", "Relationship", "HouseholdMembership", "ChildStory", "Allocation",
            "LegalHold", "BreakGlass", "AuditEntry"} <= found_by, found_by  # fmt: skip

    made = rights.subject_access_export(elis, user=manager, fmt="pdf")
    document, _files, _text = pdf_parts(made.body)
    items = items_of(document)
    missing = {item: source for item, source in expected.items() if item not in items}
    assert not missing, missing
    # and the process's own parts, which point at him through the episode
    episode = elis.protection_episodes.get(closed_on__isnull=True)
    parts = [episode.meetings.all(), episode.plans.all(), episode.registrations.all(), episode.visits.all()]
    assert all(str(x.public_id) in items for rows in parts for x in rows)
    assert len(items) > 60  # a rich record, not an empty file that happens to hold nothing expected
    assert made.audit.detail["items"] == len(items)


def test_every_table_that_points_at_a_person_is_carried_or_left_out_for_a_reason():
    """A new table about a person fails here until the file carries it or LEFT_OUT says why."""
    labels = {m._meta.label for m, _name in person_fields()} | {f"{m._meta.label}.{n}" for m, n in person_fields()}
    assert set(LEFT_OUT) <= labels  # no stale reasons
    assert Invitee in {m for m, _ in person_fields()}
