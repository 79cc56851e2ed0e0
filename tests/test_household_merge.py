"""One home held as two households (identity/households/merge.py): found, merged so the home's whole
chronology is together, the merge undone, the command for legacy data, and the review page."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from cylch.access.models import AuditEntry
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.selectors import chronology
from cylch.events.models import Event
from cylch.events.services import record_event
from cylch.identity.events import HOUSEHOLD_MERGED, HOUSEHOLD_SEPARATED
from cylch.identity.households.merge import duplicate_households, household_merge, household_unmerge
from cylch.identity.models import Household, HouseholdMembership, Relationship
from cylch.identity.services import agency_record_upsert, household_add_member, household_create
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db

PPN = "police.ppn.domestic_abuse"


@pytest.fixture
def twice(prydderch):
    """The Prydderchs' home held a second time by older data: "4, maes y felin" (the same address
    once normalised) where Nain lives, with a police notice about it that the family's
    chronology does not show (no member of the family has lived in that household)."""
    p = prydderch
    legacy = household_create(
        address_line="4, maes y felin", town="Llanbadarn", postcode="SY233ZZ", local_authority=p.places.ceredigion
    )
    nain = agency_record_upsert(
        organisation=p.orgs.gp, local_id="GP-1099",
        data={"given_name": "Mair", "family_name": "Prydderch", "date_of_birth": "1960-03-01"},
    ).person  # fmt: skip
    household_add_member(household=legacy, person=nain, from_date=date(2024, 1, 1))
    there = _household_event(p, legacy, "Notice at the old spelling")
    here = _household_event(p, p.home, "Notice at the family's home")
    return p, legacy, nain, there, here


def _household_event(p, household, summary):
    return record_event(
        organisation=p.orgs.police, household=household, code=PPN, occurred_at=at("2026-10-01"),
        details=factories.minimal_details(PPN), summary=summary,
    ).event  # fmt: skip


def _twm_lived_there_before(p, legacy):
    """Legacy data: Twm's earlier membership of the legacy household overlaps the one at the
    family's home (from 1 September 2023, still living there)."""
    return HouseholdMembership.objects.create(
        household=legacy, person=p.twm, from_date=date(2023, 5, 2), to_date=date(2023, 12, 31)
    )


def _memberships():
    return set(HouseholdMembership.objects.values_list("pk", "household_id", "person_id", "from_date", "to_date"))


def _family_entries(p, user):
    access = access_person(Viewer.for_user(user), p.twm.public_id)
    return {e.pk for e in chronology(access, whole_family=True).entries}


def test_the_same_address_held_twice_is_found_once(twice):
    """Two live households at one address, both lived in, are one pair: the family's home kept
    (somebody lives there, the older), the legacy one to merge; Efa's home is not involved."""
    p, legacy, *_ = twice
    found = duplicate_households()
    assert [(d.keep, d.other, d.exact) for d in found] == [(p.home, legacy, True)]
    assert {m.given_name for m in found[0].other_members} == {"Mair"}


def test_a_household_nobody_lives_in_and_nothing_refers_to_is_not_a_duplicate(prydderch):
    household_create(address_line="4 Maes y Felin", postcode="SY23 3ZZ", local_authority=prydderch.places.ceredigion)
    assert duplicate_households() == []


def test_merging_makes_one_home_with_both_halves_of_its_chronology(twice):
    """Members move, the legacy household points to the kept one, the entries stay as recorded and the family's chronology shows both halves
    and the merge, audited with who and why."""
    p, legacy, nain, there, here = twice
    sw = p.staff.social_worker
    factories.allocated(p.twm, p.orgs.childrens_services, practitioner=sw)
    assert there.pk not in _family_entries(p, sw)
    events_before = set(Event.objects.values_list("pk", "person_id", "household_id", "summary"))
    relationships_before = set(Relationship.objects.values_list("pk", "person_id", "kind", "relative_id", "to_date"))
    efa_home_before = set(HouseholdMembership.objects.filter(household=p.efa_home).values_list())

    household_merge(keep=p.home, merged=legacy, actor=sw, reason="Visited: one house, Nain lives downstairs")

    legacy.refresh_from_db()
    assert legacy.merged_into == p.home and legacy.live() == p.home
    assert HouseholdMembership.objects.filter(household=legacy).count() == 0
    assert HouseholdMembership.objects.get(person=nain).household == p.home
    merge = Event.objects.get(code=HOUSEHOLD_MERGED)
    assert (merge.household, merge.person, merge.recorded_by) == (p.home, None, sw)
    assert "Nain lives downstairs" in merge.summary
    # Nothing recorded is rewritten; the only new entry is the merge itself.
    assert set(Event.objects.exclude(pk=merge.pk).values_list("pk", "person_id", "household_id", "summary")) == (
        events_before
    )
    assert set(Relationship.objects.values_list("pk", "person_id", "kind", "relative_id", "to_date")) == (
        relationships_before
    )
    assert set(HouseholdMembership.objects.filter(household=p.efa_home).values_list()) == efa_home_before
    assert {there.pk, here.pk, merge.pk} <= _family_entries(p, sw)
    audit = AuditEntry.objects.get(purpose="households merged")
    assert audit.detail["into"] == str(p.home.public_id) and audit.actor_label.startswith("gwen.social")
    assert duplicate_households() == []


def test_an_agency_sending_the_merged_spelling_places_people_in_the_kept_home(twice):
    """After the merge the legacy spelling leads to the home kept, not to a third household."""
    from cylch.identity.households import household_at

    p, legacy, *_ = twice
    household_merge(keep=p.home, merged=legacy, actor=p.staff.team_manager, reason="One house")
    found, created = household_at(
        address_line="4, maes y felin", town="", postcode="SY233ZZ", local_authority=p.places.ceredigion, actor=None
    )
    assert (found, created) == (p.home, False)


def test_undoing_the_merge_puts_everything_back_and_binds(twice):
    """The undo restores every membership exactly, the legacy household is its own home again, its entry leaves the family chronology,
    and the pair is never offered again (nor merged by the command)."""
    p, legacy, _nain, there, here = twice
    sw = p.staff.social_worker
    factories.allocated(p.twm, p.orgs.childrens_services, practitioner=sw)
    before = _memberships()
    household_merge(keep=p.home, merged=legacy, actor=sw, reason="Looked like one house")
    household_unmerge(merged=legacy, actor=sw, reason="Flat above the shop: another home")
    assert _memberships() == before
    legacy.refresh_from_db()
    assert (legacy.merged_into, legacy.merge_detail) == (None, {})
    assert legacy.not_same_as.get() == p.home
    assert Event.objects.filter(code=HOUSEHOLD_SEPARATED, household=p.home).count() == 1
    entries = _family_entries(p, sw)
    assert there.pk not in entries and here.pk in entries
    assert AuditEntry.objects.filter(purpose="household merge undone").count() == 1
    assert duplicate_households() == []
    out = StringIO()
    call_command("households", "duplicates", "--merge", stdout=out)
    assert "merged 0" in out.getvalue()


def test_overlapping_memberships_become_one_and_come_apart_again_on_undo(twice):
    """Twm, a member of both at once in the legacy data, is a member of the home once after the
    merge (the wider period, still living there); the undo brings his legacy membership back
    with its own id and his home's membership as it was."""
    p, legacy, *_ = twice
    _twm_lived_there_before(p, legacy)
    before = _memberships()
    household_merge(keep=p.home, merged=legacy, actor=p.staff.team_manager, reason="One house")
    twm = HouseholdMembership.objects.filter(person=p.twm)
    assert list(twm.values_list("household_id", "from_date", "to_date")) == [(p.home.pk, date(2023, 5, 2), None)]
    assert all(
        HouseholdMembership.objects.filter(person=m.person, to_date__isnull=True).count() == 1
        for m in HouseholdMembership.objects.filter(household=p.home)
    )
    household_unmerge(merged=legacy, actor=p.staff.team_manager, reason="Two homes")
    assert _memberships() == before


def test_a_membership_ended_after_the_merge_keeps_its_end_on_undo(twice):
    """Twm moves out after the merge; the undo puts back his legacy membership and keeps the move."""
    p, legacy, *_ = twice
    _twm_lived_there_before(p, legacy)
    household_merge(keep=p.home, merged=legacy, actor=None, reason="One house")
    elsewhere = household_create(address_line="1 Stryd Fawr", postcode="SY23 1AA", local_authority=p.places.ceredigion)
    household_add_member(household=elsewhere, person=p.twm, from_date=date(2026, 11, 1))
    household_unmerge(merged=legacy, actor=None, reason="Two homes")
    rows = set(HouseholdMembership.objects.filter(person=p.twm).values_list("household_id", "from_date", "to_date"))
    assert rows == {
        (p.home.pk, date(2023, 9, 1), date(2026, 11, 1)),
        (legacy.pk, date(2023, 5, 2), date(2023, 12, 31)),
        (elsewhere.pk, date(2026, 11, 1), None),
    }


def test_the_command_lists_merges_exact_pairs_once_and_a_second_run_changes_nothing(twice):
    p, legacy, *_ = twice
    out = StringIO()
    call_command("households", "duplicates", stdout=out)
    assert f"{legacy.public_id}" in out.getvalue() and "1 households look like another home; 1 exact" in out.getvalue()
    assert Household.objects.filter(merged_into__isnull=False).count() == 0  # listing changes nothing
    out = StringIO()
    call_command("households", "duplicates", "--merge", stdout=out)
    assert "merged 1" in out.getvalue()
    legacy.refresh_from_db()
    assert legacy.merged_into == p.home
    merge = Event.objects.get(code=HOUSEHOLD_MERGED)
    assert merge.organisation == p.orgs.childrens_services and merge.recorded_by is None
    after = _memberships()
    out = StringIO()
    call_command("households", "duplicates", "--merge", stdout=out)
    assert "0 households look like another home" in out.getvalue() and "merged 0" in out.getvalue()
    assert _memberships() == after
    assert Event.objects.filter(code=HOUSEHOLD_MERGED).count() == 1
    # The service itself is idempotent too.
    assert household_merge(keep=p.home, merged=legacy, actor=None, reason="again") == p.home
    assert Event.objects.filter(code=HOUSEHOLD_MERGED).count() == 1


def test_households_in_different_local_authorities_are_for_a_reviewer_not_the_command(prydderch):
    p = prydderch
    other = household_create(
        address_line="4 Maes y Felin", postcode="SY23 3ZZ", local_authority=p.places.carmarthenshire
    )
    _household_event(p, other, "Sent to the wrong authority")
    [pair] = duplicate_households()
    assert not pair.exact
    out = StringIO()
    call_command("households", "duplicates", "--merge", stdout=out)
    assert "merged 0; 1 left for a reviewer" in out.getvalue()
    with pytest.raises(Exception, match="different local authorities"):
        household_merge(keep=p.home, merged=other, actor=p.staff.team_manager, reason="same")


def test_a_merge_needs_a_reason_and_changes_nothing_without_one(twice):
    p, legacy, *_ = twice
    before = _memberships()
    with pytest.raises(Exception, match="Say why"):
        household_merge(keep=p.home, merged=legacy, actor=p.staff.team_manager, reason="  ")
    assert _memberships() == before
    legacy.refresh_from_db()
    assert legacy.merged_into is None


# --- the review page: who may merge, and how -----------------------------------------------------


def _decide(client, pair_keep, pair_other, **body):
    return client.post(reverse("identity:household-decide", args=[pair_keep.public_id, pair_other.public_id]), body)


def test_the_page_shows_both_addresses_and_who_lives_there_and_merges(client, twice):
    """A Ceredigion team manager sees the pair (both addresses, Nain at the legacy one), merges
    it with a reason, sees it under "Merged recently" and can undo it there."""
    p, legacy, *_ = twice
    client.force_login(p.staff.team_manager)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("identity:household-duplicates"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "4 Maes y Felin, Llanbadarn Fawr, SY23 3ZZ" in page and "4, maes y felin, Llanbadarn, SY23 3ZZ" in page
    assert "Mair Prydderch" in page and "Twm Prydderch" in page
    response = _decide(client, p.home, legacy, decision="same", reason="Visited: one house")
    assert response.status_code == 302
    legacy.refresh_from_db()
    assert legacy.merged_into == p.home
    assert legacy.merge_detail["by"] == p.staff.team_manager.username
    page = client.get(reverse("identity:household-duplicates")).content.decode()
    assert reverse("identity:household-undo", args=[legacy.public_id]) in page
    client.post(reverse("identity:household-undo", args=[legacy.public_id]), {"reason": "Two flats"})
    legacy.refresh_from_db()
    assert legacy.merged_into is None and legacy.not_same_as.get() == p.home


def test_not_the_same_home_binds_and_a_reason_is_required(client, twice):
    p, legacy, *_ = twice
    client.force_login(p.staff.social_worker)
    before = _memberships()
    _decide(client, p.home, legacy, decision="different", reason="")
    assert not legacy.not_same_as.exists() and _memberships() == before
    _decide(client, p.home, legacy, decision="different", reason="Ground floor and first floor flats")
    assert legacy.not_same_as.get() == p.home
    assert duplicate_households() == [] and _memberships() == before
    assert AuditEntry.objects.filter(purpose="households are different homes").count() == 1
    # Once decided, the pair is not offered, so it cannot be merged from the page.
    assert _decide(client, p.home, legacy, decision="same", reason="x").status_code == 404


def test_a_role_that_may_not_merge_is_refused_and_nothing_changes(client, twice):
    """Other agencies get 403; children's services of another authority get 404 (the pair is
    not theirs to see), for the page, the decision and the undo alike."""
    p, legacy, *_ = twice
    before = _memberships()
    client.force_login(p.staff.school_lead)
    assert client.get(reverse("identity:household-duplicates")).status_code == 403
    assert _decide(client, p.home, legacy, decision="same", reason="x").status_code == 403
    client.force_login(p.staff.other_la_social_worker)
    page = client.get(reverse("identity:household-duplicates"))
    assert page.status_code == 200 and "Maes y Felin" not in page.content.decode()
    assert _decide(client, p.home, legacy, decision="same", reason="x").status_code == 404
    household_merge(keep=p.home, merged=legacy, actor=p.staff.team_manager, reason="One house")
    merged = _memberships()
    assert client.post(reverse("identity:household-undo", args=[legacy.public_id]), {"reason": "x"}).status_code == 404
    client.force_login(p.staff.health_visitor)
    assert client.post(reverse("identity:household-undo", args=[legacy.public_id]), {"reason": "x"}).status_code == 403
    legacy.refresh_from_db()
    assert legacy.merged_into == p.home and _memberships() == merged != before


def test_finding_duplicates_takes_the_same_queries_however_many_there_are(twice):
    """More pairs add no query: candidates, use, reviewers' decisions and members are each read once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    p, *_ = twice

    def counted() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            found = duplicate_households()
        return len(found), len(queries)

    one, queries = counted()
    for n in range(3):
        twin = household_create(
            address_line=f"{n + 7} Stryd y Castell", postcode="SY23 2AA", local_authority=p.places.ceredigion
        )
        again = household_create(
            address_line=f"{n + 7}, stryd y castell", postcode="sy232aa", local_authority=p.places.ceredigion
        )
        for home in (twin, again):
            _household_event(p, home, f"Notice {home.pk}")
    assert counted() == (one + 3, queries)
    assert queries == 6  # candidates, members living there, entries, decisions, members, kept before


def test_a_person_merged_since_gets_their_membership_back_on_undo(twice):
    """Twm's record is found to be a second record of another child after the households were
    merged; undoing the household merge gives his legacy membership to the person he now is."""
    from cylch.identity.linking import person_merge

    p, legacy, *_ = twice
    _twm_lived_there_before(p, legacy)
    household_merge(keep=p.home, merged=legacy, actor=None, reason="One house")
    twin = agency_record_upsert(
        organisation=p.orgs.school, local_id="TWM-2", data={"given_name": "Tom", "family_name": "Prydderch"}
    ).person
    person_merge(source=p.twm, target=twin, actor=None, reason="the same child")
    household_unmerge(merged=legacy, actor=None, reason="Two homes")
    restored = HouseholdMembership.objects.get(household=legacy, from_date=date(2023, 5, 2))
    assert (restored.person, restored.to_date) == (twin, date(2023, 12, 31))


def test_the_page_reads_the_same_queries_however_many_pairs(client, twice):
    """Three more pairs (and a merge to undo) add no query to the page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    p, *_ = twice
    client.force_login(p.staff.social_worker)
    url = reverse("identity:household-duplicates")
    client.get(url)  # the session's first request writes it

    def counted() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    before = counted()
    for n in range(4):
        a = household_create(
            address_line=f"{n} Stryd y Castell", postcode="SY23 2AA", local_authority=p.places.ceredigion
        )
        b = household_create(
            address_line=f"{n}, stryd y castell", postcode="SY23 2AA", local_authority=p.places.ceredigion
        )
        for home in (a, b):
            _household_event(p, home, f"Notice {home.pk}")
    household_merge(keep=a, merged=b, actor=None, reason="One house")
    page = client.get(url).content.decode()
    assert page.count("Merge: one home") == 4 and "Undo the merge" in page
    assert counted() == before


# --- the rules: a household rule counts both halves of a merged home ------------------------------
# rules/world.py and rules/services.py read a home's entries through homes_with_merged, incrementally
# and in the batch run; recording a merge re-checks the merged half's entries at the kept home.


def _ppn(p, household, days, ext):
    from datetime import timedelta

    from django.utils import timezone

    return record_event(
        organisation=p.orgs.police, household=household, code=PPN, occurred_at=timezone.now() - timedelta(days=days),
        details={"risk_level": "standard"}, summary="Notice", external_id=ext,
    ).event  # fmt: skip


def test_merging_adds_up_the_notices_of_both_halves(prydderch):
    """A notice at the legacy spelling and one at the family's home: two at one address, the
    repeated-notices rule's threshold, once the two are one home."""
    from cylch.rules.models import Alert

    p = prydderch
    legacy = household_create(address_line="4, maes y felin", postcode="SY233ZZ", local_authority=p.places.ceredigion)
    _ppn(p, legacy, 40, "L1")
    _ppn(p, p.home, 20, "H1")
    assert not Alert.objects.exists()
    household_merge(keep=p.home, merged=legacy, actor=p.staff.team_manager, reason="One house")
    assert list(Alert.objects.values_list("scope_key", flat=True)) == [f"household:{p.home.pk}"]


def test_the_batch_run_counts_both_halves_too(prydderch, settings):
    """The nightly run, with nothing raised as the notices and the merge were recorded."""
    from cylch.rules.models import Alert
    from cylch.rules.services import run_batch

    settings.CYLCH_RULES_ON_RECORD = False
    p = prydderch
    legacy = household_create(address_line="4, maes y felin", postcode="SY233ZZ", local_authority=p.places.ceredigion)
    _ppn(p, legacy, 40, "L1")
    _ppn(p, p.home, 20, "H1")
    household_merge(keep=p.home, merged=legacy, actor=None, reason="One house")
    assert not Alert.objects.exists()
    run_batch()
    assert list(Alert.objects.values_list("scope_key", flat=True)) == [f"household:{p.home.pk}"]
