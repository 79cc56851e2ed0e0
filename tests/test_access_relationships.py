"""How an organisation's relationship to a child is worked out, and what reading it costs."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cylch.access.policy import Relationship
from cylch.access.selectors import Viewer, access_person, relationship_to_person, visible_events
from cylch.identity.models import Allocation
from cylch.identity.services import household_add_member, household_create
from tests import factories


def rel(user, person) -> Relationship:
    return relationship_to_person(Viewer.for_user(user), person)


def test_childrens_services_are_involved_where_the_child_lives_and_not_elsewhere(prydderch):
    """Ceredigion children's services are involved with Alys (she lives in Ceredigion);
    Carmarthenshire's are not, though they know her half-sister Efa."""
    assert rel(prydderch.staff.social_worker, prydderch.alys) == Relationship.INVOLVED
    assert rel(prydderch.staff.other_la_social_worker, prydderch.alys) == Relationship.NONE
    assert rel(prydderch.staff.other_la_social_worker, prydderch.efa) == Relationship.INVOLVED
    assert rel(prydderch.staff.social_worker, prydderch.efa) == Relationship.NONE


def test_moving_house_moves_the_local_authority_that_is_involved(prydderch):
    """When Alys moves to Carmarthenshire, Ceredigion children's services are no longer involved
    and Carmarthenshire's are; the GP, which holds her record, stays involved."""
    new_home = household_create(
        address_line="7 Stryd y Brenin",
        town="Carmarthen",
        postcode="SA31 1BB",
        local_authority=prydderch.places.carmarthenshire,
    )
    household_add_member(household=new_home, person=prydderch.alys, from_date=date(2026, 10, 1))
    assert rel(prydderch.staff.social_worker, prydderch.alys) == Relationship.NONE
    assert rel(prydderch.staff.other_la_social_worker, prydderch.alys) == Relationship.INVOLVED
    assert rel(prydderch.staff.gp, prydderch.alys) == Relationship.INVOLVED


def test_a_record_for_anyone_in_the_household_makes_the_organisation_involved(prydderch):
    """The health visitor holds records only for Twm and the unborn baby, but is involved with Alys,
    who lives with them; not with Efa, Twm's half-sister who lives elsewhere."""
    assert rel(prydderch.staff.health_visitor, prydderch.alys) == Relationship.INVOLVED
    assert rel(prydderch.staff.health_visitor, prydderch.efa) == Relationship.NONE


def test_an_organisation_with_nothing_on_the_family_has_no_relationship(prydderch):
    """Tai Teifi holds nothing about the Prydderch family, so it stands outside every member's circle."""
    for person in (prydderch.ceri, prydderch.alys, prydderch.twm, prydderch.unborn, prydderch.efa):
        assert rel(prydderch.staff.housing_officer, person) == Relationship.NONE


def test_recording_an_event_about_a_child_makes_the_organisation_involved(prydderch):
    """Police who record a concern about Twm (without sending a record of him) are involved with him."""
    assert rel(prydderch.staff.police_officer, prydderch.twm) == Relationship.NONE
    factories.event(
        organisation=prydderch.orgs.police,
        person=prydderch.twm,
        code="police.ppn.vulnerability",
        recorded_by=prydderch.staff.police_officer,
    )
    assert rel(prydderch.staff.police_officer, prydderch.twm) == Relationship.INVOLVED


def test_a_household_level_notice_makes_the_police_involved_with_the_children(prydderch):
    """A domestic-abuse PPN recorded against the household (no one person) makes the force
    involved with every child living there, as the policy says ("knows the child or their
    household"); not with Efa, who lives elsewhere."""
    from cylch.events.services import record_event

    record_event(
        organisation=prydderch.orgs.police,
        household=prydderch.home,
        code="police.ppn.domestic_abuse",
        occurred_at=factories.at("2026-10-03", 23),
        details={"risk_level": "medium", "child_present": True},
        recorded_by=prydderch.staff.police_officer,
    )
    assert rel(prydderch.staff.police_officer, prydderch.alys) == Relationship.INVOLVED
    assert rel(prydderch.staff.police_officer, prydderch.twm) == Relationship.INVOLVED
    assert rel(prydderch.staff.police_officer, prydderch.efa) == Relationship.NONE


def test_an_open_allocation_makes_the_organisation_allocated_and_an_ended_one_does_not(prydderch):
    """An allocation counts while it is open (no end date, or ending today or later)."""
    allocation = factories.allocated(prydderch.alys, prydderch.orgs.school, practitioner=prydderch.staff.school_lead)
    assert rel(prydderch.staff.school_lead, prydderch.alys) == Relationship.ALLOCATED
    today = timezone.localdate()
    # No service ends an allocation yet, so end it the way a future one would: set to_date.
    Allocation.objects.filter(pk=allocation.pk).update(to_date=today)
    assert rel(prydderch.staff.school_lead, prydderch.alys) == Relationship.ALLOCATED
    Allocation.objects.filter(pk=allocation.pk).update(to_date=today - timedelta(days=1))
    # The school still holds Alys's record, so it falls back to involved.
    assert rel(prydderch.staff.school_lead, prydderch.alys) == Relationship.INVOLVED


def test_the_chronology_reads_in_a_fixed_number_of_queries(prydderch):
    """``visible_events`` costs the same number of queries for 2 entries as for 40 (no N+1 on
    organisations or corrections)."""
    org_cycle = [prydderch.orgs.gp, prydderch.orgs.school, prydderch.orgs.police, prydderch.orgs.housing]

    def add(n: int, start: int) -> None:
        for i in range(n):
            factories.event(
                organisation=org_cycle[i % len(org_cycle)],
                person=prydderch.alys,
                code=factories.code_with_sensitivity(["health", "education", "police", "housing"][i % 4]),
                occurred_at=factories.at(date(2026, 1, 1) + timedelta(days=start + i)),
            )

    access = access_person(Viewer.for_user(prydderch.staff.social_worker), prydderch.alys.public_id)
    add(2, 0)
    with CaptureQueriesContext(connection) as few:
        assert len(visible_events(access)) == 2
    add(38, 10)
    original = factories.event(
        organisation=prydderch.orgs.gp, person=prydderch.alys, code="health.appointment.was_not_brought"
    )
    factories.corrected_event(original, recorded_by=prydderch.staff.gp)
    with CaptureQueriesContext(connection) as many:
        views = visible_events(access)
    assert len(views) == 41
    assert {v.event.organisation.code for v in views} >= {"meddygfa-r-bont", "dyfed-powys-police"}
    assert len(many.captured_queries) == len(few.captured_queries) <= 3


def every_viewer_with_twm_allocated(fam) -> list[Viewer]:
    """Each of the family's agencies' practitioners and the police's system, with the health
    visitors allocated to Twm only (so that allocated, involved and none all occur)."""
    Allocation.objects.create(person=fam.twm, organisation=fam.orgs.health_visiting, kind="named_practitioner",
                              from_date=date(2023, 6, 1))  # fmt: skip
    return [
        Viewer.for_user(user)
        for user in (fam.staff.school_lead, fam.staff.gp, fam.staff.social_worker, fam.staff.police_officer,
                     fam.staff.housing_officer, fam.staff.other_la_social_worker, fam.staff.health_visitor)
    ] + [Viewer.for_system(fam.orgs.police)]  # fmt: skip


def test_many_people_at_once_answer_as_each_alone_in_a_fixed_number_of_queries(prydderch):
    """A search's results or a family's members are asked about together: each answer is the one
    that person gets alone (one person's household, records or allocation never count for
    another), and ten more people cost no more queries."""
    from cylch.access.selectors import may_see_demographics_of, relationships_to_persons
    from cylch.identity.models import Person

    fam = prydderch
    viewers = every_viewer_with_twm_allocated(fam)
    others = [Person.objects.create(given_name=f"Arall{i}", family_name="Dieithryn") for i in range(12)]
    people = [fam.ceri, fam.dafydd, fam.alys, fam.twm, fam.efa, fam.unborn, *others[:2]]
    seen = set()
    for viewer in viewers:
        together = relationships_to_persons(viewer, people)
        alone = {p.pk: relationships_to_persons(viewer, [p])[p.pk] for p in people}
        assert together == alone, viewer.organisation.code
        seen |= set(together.values())
    assert seen == {Relationship.ALLOCATED, Relationship.INVOLVED, Relationship.NONE}

    viewer = Viewer.for_user(fam.staff.social_worker)
    with CaptureQueriesContext(connection) as few:
        may_see_demographics_of(viewer, people)
    with CaptureQueriesContext(connection) as many:
        shown = may_see_demographics_of(viewer, people + others[2:])
    assert len(many.captured_queries) == len(few.captured_queries)
    assert {p.pk for p in others} & shown == set() and fam.alys.pk in shown


def test_opening_a_child_with_the_family_gives_every_member_the_standing_read_apart(prydderch):
    """A chronology opens the child with the family (``access_person(..., family=family_of)``):
    each member's access is the one read apart (the child's, then the rest's), for every viewer,
    one of them allocated to Twm only; and the family kept is the family."""
    from cylch.chronology.family import family_of
    from cylch.chronology.selectors import member_levels

    fam = prydderch
    viewers = every_viewer_with_twm_allocated(fam)
    seen = set()
    for viewer in viewers:
        for child in (fam.alys, fam.efa):
            apart = access_person(viewer, child.public_id)
            together = access_person(viewer, child.public_id, family=family_of)
            family = family_of(child)
            assert [m.person.pk for m in together.family.members] == [m.person.pk for m in family.members]
            assert together.relationship == apart.relationship == relationship_to_person(viewer, child)
            assert set(together.standing) == {m.person.pk for m in family.members}
            levels_apart = {pk: a.relationship for pk, a in member_levels(apart, family, family.members).items()}
            levels = {pk: a.relationship for pk, a in member_levels(together, family, family.members).items()}
            assert levels == levels_apart, (viewer.organisation.code, child.given_name)
            seen |= set(levels.values())
    assert seen == {Relationship.ALLOCATED, Relationship.INVOLVED, Relationship.NONE}
