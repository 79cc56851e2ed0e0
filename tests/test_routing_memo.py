"""Routing's reads during one batch's rules (``routing.remembering``): the same answers as
reading each time, each read once."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cylch.identity.models import Allocation, AllocationKind
from cylch.identity.services import allocation_create
from cylch.rules import routing


def _answers(fam):
    la = fam.home.local_authority
    parts = ("lead_coordinator", "social_worker", "gp", "school", "health_visitor", "front_door")
    return (
        [routing.current_allocation(c, k) for c in fam.children for k in AllocationKind.values],
        routing.targets(parts, fam.children, la),
        [routing.people_to_tell(t) for t in routing.targets(parts, fam.children, la)],
        routing.front_door(la),
    )


def test_remembered_answers_are_those_read_each_time_and_each_is_read_once(prydderch):
    fam = prydderch
    today = timezone.localdate()
    # Alys: an allocation that ended, one not yet started and the current one (the latest start wins).
    ended = allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services,
                              practitioner=fam.staff.team_manager, kind=AllocationKind.ALLOCATED_SOCIAL_WORKER,
                              from_date=today - timedelta(days=90))  # fmt: skip
    Allocation.objects.filter(pk=ended.pk).update(to_date=today - timedelta(days=30))
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER, from_date=today - timedelta(days=10))  # fmt: skip
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=fam.staff.team_manager,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER, from_date=today + timedelta(days=5))  # fmt: skip
    read_each_time = _answers(fam)
    assert read_each_time[0][AllocationKind.values.index(AllocationKind.ALLOCATED_SOCIAL_WORKER)].practitioner == (
        fam.staff.social_worker
    )

    with routing.remembering([c.pk for c in fam.children]):
        with CaptureQueriesContext(connection) as first:  # the children's allocations: read as the block began
            [routing.current_allocation(c, k) for c in fam.children for k in AllocationKind.values]
        remembered = _answers(fam)
        with CaptureQueriesContext(connection) as again:
            assert _answers(fam) == remembered
    assert remembered == read_each_time
    assert len(first) == 0 and len(again) == 0, [q["sql"] for q in again]  # everything asked again was kept

    # Outside the block nothing is kept: a change shows at once.
    allocation_create(person=fam.twm, organisation=fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                      kind=AllocationKind.LEAD_COORDINATOR)  # fmt: skip
    assert routing.current_allocation(fam.twm, AllocationKind.LEAD_COORDINATOR).practitioner == fam.staff.social_worker


def test_a_batchs_agencies_are_read_at_once_and_are_those_read_each_time(prydderch):
    """The agencies a rule routes to (GP, health visitor, school, ...) for each child, with the
    named worker where there is one: read for every child at once when a batch's alerts are
    about to be routed (``expect``), the same as read child by child, and nothing read after."""
    fam = prydderch
    allocation_create(person=fam.twm, organisation=fam.orgs.gp, practitioner=fam.staff.gp,
                      kind=AllocationKind.NAMED_PRACTITIONER)  # fmt: skip
    kinds = sorted(set(routing.PART_KINDS.values()))
    read_each_time = [routing._agencies(c, kind) for c in fam.children for kind in kinds]
    assert any(t.user == fam.staff.gp for targets in read_each_time for t in targets)
    with routing.remembering():
        with CaptureQueriesContext(connection) as at_once:
            routing.expect([c.pk for c in fam.children])
        with CaptureQueriesContext(connection) as after:
            remembered = [routing._agencies(c, kind) for c in fam.children for kind in kinds]
    assert remembered == read_each_time
    assert len(after) == 0, [q["sql"] for q in after]
    assert len(at_once) <= 4  # allocations, agencies, their organisations, named workers


def test_a_batchs_organisations_leads_are_read_at_once_and_are_those_read_each_time(prydderch):
    """The people an alert goes to at an organisation with no named worker (its safeguarding
    leads; children's services: its front-door team but the social workers): read for every
    organisation of a batch's alerts in one query (``expect_staff``), the same as one by one."""
    fam = prydderch
    orgs = [fam.orgs.gp, fam.orgs.school, fam.orgs.health_visiting, fam.orgs.childrens_services, fam.orgs.police]
    targets = [routing.Target(org, None, "front_door") for org in orgs]
    read_each_time = [routing.people_to_tell(t) for t in targets]
    assert any(read_each_time) and fam.staff.social_worker not in read_each_time[3]
    with routing.remembering():
        with CaptureQueriesContext(connection) as at_once:
            routing.expect_staff(orgs)
        with CaptureQueriesContext(connection) as after:
            remembered = [routing.people_to_tell(t) for t in targets]
    assert remembered == read_each_time
    assert len(at_once) == 1 and len(after) == 0
