"""The access policy end to end: every role x sensitivity class x relationship to the child.

One viewer per role, each in its own organisation of the kind the role works in (all in
Ceredigion). The Prydderch children stand in the three relationships to every viewer:

* **Alys** is *allocated*: each viewer's organisation holds an open allocation for her.
* **Twm** is *involved*: each viewer's organisation holds an agency record linked to him
  (through ``agency_record_upsert``), except children's services, which are involved because
  he lives in a Ceredigion household.
* **Efa** is *none*: she lives in Carmarthenshire and no viewer's organisation knows her.

A third organisation (Ysbyty Glangwili, in Carmarthenshire) records one event of each
sensitivity class about each child, so the own-organisation override never applies. The
whole set is built once for the module and rolled back at the end.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

import pytest
from django.db import transaction

from cylch.access.policy import Level, Relationship, Sensitivity, access_level, table_level
from cylch.access.roles import CASEWORK_ROLES, ROLE_ORGANISATION_KINDS, OrganisationKind, Role
from cylch.access.selectors import (
    PersonNotFound,
    Viewer,
    access_person,
    relationship_to_person,
    visible_events,
)
from cylch.events.models import Event
from cylch.identity.models import Person
from cylch.identity.services import agency_record_upsert
from tests import factories

ROLES = [r.value for r in Role]
CLASSES = [c.value for c in Sensitivity]
RELATIONSHIPS = [r.value for r in Relationship]
SOCIAL_CARE_ROLES = {
    role for role, kinds in ROLE_ORGANISATION_KINDS.items() if kinds == {OrganisationKind.LA_CHILDRENS_SERVICES}
}


@dataclass(frozen=True)
class Matrix:
    family: factories.Prydderch
    viewers: dict[str, Viewer]
    persons: dict[str, Person]
    events: dict[tuple[str, str], Event]  # (relationship, sensitivity) -> event


def _build() -> Matrix:
    family = factories.prydderch_household()
    ceredigion = family.places.ceredigion
    recorder = factories.organisation(
        code="ysbyty-glangwili",
        kind=OrganisationKind.HOSPITAL,
        name_en="Glangwili Hospital",
        name_cy="Ysbyty Glangwili",
        local_authority=family.places.carmarthenshire,
    )
    persons = {"allocated": family.alys, "involved": family.twm, "none": family.efa}
    viewers: dict[str, Viewer] = {}
    for role in ROLES:
        org = factories.organisation_for_role(role, code=f"matrix-{role}", local_authority=ceredigion)
        if role == Role.SYSTEM:
            viewers[role] = Viewer.for_system(org)
        else:
            user = factories.practitioner(username=f"matrix-{role}", role=role, organisation=org)
            viewers[role] = Viewer.for_user(user)
        factories.allocated(family.alys, org)
        if org.kind != OrganisationKind.LA_CHILDRENS_SERVICES:
            agency_record_upsert(
                organisation=org,
                local_id=f"{role}-twm",
                data={"given_name": "Tomos", "nhs_number": factories.NHS["twm"]},
            )
    events = {}
    for rel, person in persons.items():
        for day, cls in enumerate(CLASSES, start=1):
            events[rel, cls] = factories.event_of_sensitivity(
                cls, organisation=recorder, person=person, occurred_at=factories.at(f"2026-10-{day:02d}")
            )
    return Matrix(family, viewers, persons, events)


@pytest.fixture(scope="module")
def matrix(django_db_setup, django_db_blocker):
    """Build once, share across the module's tests, roll back afterwards."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = _build()
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def _levels(matrix: Matrix, role: str, relationship: str) -> dict[str, Level]:
    """Sensitivity class -> the level ``visible_events`` gives this role on the third party's entries."""
    access = access_person(matrix.viewers[role], matrix.persons[relationship].public_id)
    by_pk = {view.event.pk: view.level for view in visible_events(access)}
    return {cls: by_pk[matrix.events[relationship, cls].pk] for cls in CLASSES}


@pytest.mark.parametrize("sensitivity", CLASSES)
@pytest.mark.parametrize("relationship", RELATIONSHIPS)
@pytest.mark.parametrize("role", ROLES)
def test_policy_table_holds_end_to_end(matrix, db, role, relationship, sensitivity):
    """The relationship is computed from real allocations, records and households, and the
    person page shows the third party's entry at exactly the level the policy table gives."""
    viewer, person = matrix.viewers[role], matrix.persons[relationship]
    assert relationship_to_person(viewer, person) == Relationship(relationship)
    expected = table_level(role, sensitivity, relationship)
    if role in CASEWORK_ROLES:
        access = access_person(viewer, person.public_id)
        assert access.relationship == relationship and access.break_glass is None
        assert _levels(matrix, role, relationship)[sensitivity] == expected
    else:
        with pytest.raises(PersonNotFound):
            access_person(viewer, person.public_id)
        assert expected == Level.EXISTENCE


# --- invariants that do not come from reading the table -----------------------------------

CASEWORK = sorted(r.value for r in CASEWORK_ROLES)


@pytest.mark.parametrize("role", CASEWORK)
def test_outside_the_circle_every_role_sees_only_that_entries_exist(matrix, db, role):
    """With no relationship to the child, every entry is withheld, and every entry is still listed."""
    levels = _levels(matrix, role, "none")
    assert set(levels.values()) == {Level.EXISTENCE}
    access = access_person(matrix.viewers[role], matrix.family.efa.public_id)
    views = visible_events(access)
    assert len(views) == Event.objects.filter(person=matrix.family.efa).count() == len(CLASSES)
    assert all(v.withheld and not v.shows_content for v in views)
    # What a withheld entry still says: who recorded it and when, so nobody mistakes the gap.
    assert {v.event.organisation.code for v in views} == {"ysbyty-glangwili"}
    assert not access.may_see_demographics


@pytest.mark.parametrize("role", CASEWORK)
def test_an_organisation_always_sees_its_own_entries_in_full(matrix, db, role):
    """Entries the viewer's own organisation recorded show in full, in every class, even where the
    table would withhold them (here, about a child the organisation only knows through them)."""
    viewer = matrix.viewers[role]
    mine = {
        cls: factories.event_of_sensitivity(
            cls,
            organisation=viewer.organisation,
            person=matrix.family.efa,
            occurred_at=factories.at(f"2026-09-{day:02d}"),
        )
        for day, cls in enumerate(CLASSES, start=1)
    }
    access = access_person(viewer, matrix.family.efa.public_id)
    by_pk = {v.event.pk: v.level for v in visible_events(access)}
    assert {cls: by_pk[e.pk] for cls, e in mine.items()} == dict.fromkeys(CLASSES, Level.CONTENT)
    # ... while the other organisation's entries stay at the table's level for the new relationship.
    for cls in CLASSES:
        assert by_pk[matrix.events["none", cls].pk] == table_level(role, cls, access.relationship)


@pytest.mark.parametrize("role", [Role.BOARD_ANALYST, Role.REVIEW_PANEL, Role.ADMIN])
def test_analysts_panels_and_administrators_cannot_open_a_person(matrix, db, role):
    """Non-casework roles get PersonNotFound for every child, allocated or not, exactly as for a
    person who does not exist, and their own organisation's entries do not open the door."""
    viewer = matrix.viewers[role]
    for person in matrix.persons.values():
        with pytest.raises(PersonNotFound):
            access_person(viewer, person.public_id)
    with pytest.raises(PersonNotFound):
        access_person(viewer, uuid.uuid4())
    for cls in CLASSES:
        assert (
            access_level(role=role, sensitivity=cls, relationship="allocated", own_organisation=True) == Level.EXISTENCE
        )


@pytest.mark.parametrize("role", CASEWORK)
def test_absent_and_malformed_ids_look_the_same_as_forbidden(matrix, db, role):
    """An unknown or malformed id raises the same PersonNotFound, so the index cannot be probed."""
    viewer = matrix.viewers[role]
    for bad in (uuid.uuid4(), "not-a-uuid", None):
        with pytest.raises(PersonNotFound):
            access_person(viewer, bad)


@pytest.mark.parametrize("role", sorted(set(CASEWORK) - SOCIAL_CARE_ROLES))
def test_special_category_is_never_content_for_involved_non_social_care_roles(matrix, db, role):
    """Highly sensitive entries (mental health, sexual health ...) never show in full to an
    organisation that is merely involved, unless it is children's services."""
    assert _levels(matrix, role, "involved")["special"] != Level.CONTENT


def test_social_care_roles_are_the_childrens_services_roles(matrix, db):
    """The roles the special-category invariant exempts are exactly the four children's services roles."""
    assert {Role.FRONT_DOOR, Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.CONFERENCE_CHAIR} == SOCIAL_CARE_ROLES


@pytest.mark.parametrize("role", CASEWORK)
def test_a_closer_relationship_never_shows_less(matrix, db, role):
    """Allocated sees at least what involved sees, and involved at least what none sees, class by class."""
    allocated, involved, none = (_levels(matrix, role, rel) for rel in ("allocated", "involved", "none"))
    for cls in CLASSES:
        assert allocated[cls].rank >= involved[cls].rank >= none[cls].rank, cls
