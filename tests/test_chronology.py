"""The merged chronology: one time line across organisations and the whole family, honest
about what is withheld, grouped, markable, exportable and audited."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry
from cylch.access.policy import Level
from cylch.access.roles import OrganisationKind, Role
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.grouping import group_entries
from cylch.chronology.selectors import Filters, chronology
from cylch.events.services import record_event
from tests import factories
from tests.factories import at


def _household_event(org, household, code, when, summary):
    return record_event(
        organisation=org,
        household=household,
        code=code,
        occurred_at=when,
        details=factories.minimal_details(code),
        summary=summary,
    ).event


@pytest.fixture
def six(prydderch):
    """Entries about Twm's family from six organisations, on known dates."""
    p = prydderch
    o = p.orgs
    made = {
        "gp": factories.event(
            organisation=o.gp, person=p.twm, code="health.appointment.was_not_brought", occurred_at=at("2026-02-03")
        ),
        "hv": factories.event(
            organisation=o.health_visiting,
            person=p.twm,
            code="health.appointment.was_not_brought",
            occurred_at=at("2026-04-14"),
            summary="Twm not brought to his 2-year review",
        ),
        "school": factories.event(
            organisation=o.school,
            person=p.alys,
            code=factories.code_with_sensitivity("education"),
            occurred_at=at("2026-03-10"),
            summary="Alys came to school hungry",
        ),
        "police": _household_event(
            o.police, p.home, "police.ppn.domestic_abuse", at("2026-05-01", 23), "Neighbour called police"
        ),
        "housing": _household_event(o.housing, p.home, "housing.utilities.none", at("2026-01-12"), "No heating"),
        "carms": factories.event(
            organisation=o.other_la_childrens_services,
            person=p.efa,
            code=factories.code_with_sensitivity("social_care"),
            occurred_at=at("2026-06-20"),
            summary="Efa asked to see her brother",
        ),
        "father": factories.event(
            organisation=o.gp,
            person=p.dafydd,
            code=factories.code_with_sensitivity("health", subjects=("adult", "any")),
            occurred_at=at("2026-03-01"),
            summary="Dafydd seen by GP",
        ),
    }
    return SimpleNamespace(p=p, events=made)


def _access(user, person):
    return access_person(Viewer.for_user(user), person.public_id)


def test_six_organisations_merge_into_one_ordered_whole_family_chronology(six):
    p = six.p
    factories.allocated(p.twm, p.orgs.childrens_services, practitioner=p.staff.social_worker)
    chron = chronology(_access(p.staff.social_worker, p.twm), whole_family=True)
    ids = [e.event.pk for e in chron.entries]
    assert set(ids) == {e.pk for e in six.events.values()}
    times = [e.occurred_at for e in chron.entries]
    assert times == sorted(times, reverse=True)
    assert len({e.event.organisation_id for e in chron.entries}) == 6
    roles = {e.event.pk: (e.member.role if e.member else None) for e in chron.entries}
    assert roles[six.events["school"].pk] == "half_sibling"  # Alys, through their mother
    assert roles[six.events["carms"].pk] == "half_sibling"  # Efa lives elsewhere, through their father
    assert roles[six.events["father"].pk] == "parent"
    assert roles[six.events["police"].pk] is None  # about the household as a whole
    # Allocated children's services sees the lot in full.
    assert all(e.level == Level.CONTENT for e in chron.entries)


def test_the_child_only_view_keeps_the_home_but_not_the_family(six):
    p = six.p
    chron = chronology(_access(p.staff.social_worker, p.twm), whole_family=False)
    found = {e.event.pk for e in chron.entries}
    assert found == {six.events[k].pk for k in ("gp", "hv", "police", "housing")}


def test_a_viewer_without_rights_sees_withheld_markers_not_content(six, client, demo_hub):
    p = six.p
    stranger_org = factories.organisation(code="T3-NONE", kind=OrganisationKind.THIRD_SECTOR, name_en="Elsewhere Trust")
    stranger = factories.demo_practitioner(
        username="stranger", role=Role.THIRD_SECTOR_WORKER, organisation=stranger_org
    )
    chron = chronology(_access(stranger, p.twm), whole_family=True)
    assert chron.entries and all(e.withheld for e in chron.entries)
    client.force_login(stranger)
    html = client.get(reverse("chronology:chronology", args=[p.twm.public_id])).content.decode()
    assert "Withheld: recorded by Meddygfa" in html or "entries withheld: recorded by" in html
    for secret in ("hungry", "No heating", "2-year review", "Efa asked", "Neighbour called"):
        assert secret not in html
    assert "Efa" not in html and "Dafydd" not in html  # names of others are not shown either
    assert "Father" not in html and "(Parent)" not in html and ">Parent<" in html  # nor, through "Father", his sex


def test_a_withheld_entry_is_never_fetched_with_its_content(six):
    """The event behind a withheld entry comes without summary, details or recorder: content
    the viewer may not see is not loaded at all, not merely left out of the page."""
    p = six.p
    stranger_org = factories.organisation(code="T3-NONE", kind=OrganisationKind.THIRD_SECTOR, name_en="Elsewhere Trust")
    stranger = factories.demo_practitioner(
        username="stranger", role=Role.THIRD_SECTOR_WORKER, organisation=stranger_org
    )
    chron = chronology(_access(stranger, p.twm), whole_family=True)
    with CaptureQueriesContext(connection) as fetched:
        chron.hydrate(chron.entries)
    assert all(e.withheld for e in chron.entries)
    assert all("summary" not in q["sql"] for q in fetched.captured_queries)
    for e in chron.entries:
        assert (e.event.summary, e.event.details, e.event.recorder_name) == ("", {}, "")
        assert e.event.public_id == next(x for x in six.events.values() if x.pk == e.pk).public_id


def test_only_the_entries_shown_are_fetched_and_a_caller_that_does_not_prepare_gets_them_all(six):
    """Entries start light; ``hydrate`` fetches the events of the ones about to be shown in
    one query, and reading an unprepared entry fetches the rest of the chronology at once."""
    p = six.p
    factories.allocated(p.twm, p.orgs.childrens_services, practitioner=p.staff.social_worker)
    chron = chronology(_access(p.staff.social_worker, p.twm), whole_family=True)
    first, *rest = chron.entries
    with CaptureQueriesContext(connection) as page:
        chron.hydrate([first])
        assert first.event.summary == next(x for x in six.events.values() if x.pk == first.pk).summary
    assert len(page.captured_queries) == 1
    with CaptureQueriesContext(connection) as others:
        summaries = [e.event.summary for e in rest]
    assert len(others.captured_queries) == 1
    assert summaries == [next(x for x in six.events.values() if x.pk == e.pk).summary for e in rest]
    # Also when the caller keeps only the entries (as marking significant does).
    entries = chronology(_access(p.staff.social_worker, p.twm), whole_family=True).entries
    with CaptureQueriesContext(connection) as kept_only:
        assert [e.event.public_id for e in entries] == [e.event.public_id for e in chron.entries]
    assert len(kept_only.captured_queries) == 1


def test_a_school_sees_police_entries_as_summary_and_its_own_in_full(six, client, demo_hub):
    p = six.p
    chron = chronology(_access(p.staff.school_lead, p.alys), whole_family=True)
    levels = {e.event.pk: e.level for e in chron.entries}
    assert levels[six.events["school"].pk] == Level.CONTENT  # their own
    assert levels[six.events["police"].pk] == Level.SUMMARY
    client.force_login(p.staff.school_lead)
    html = client.get(reverse("chronology:chronology", args=[p.alys.public_id])).content.decode()
    assert "Alys came to school hungry" in html
    assert "Neighbour called police" not in html


def test_repeated_similar_entries_group_with_a_count(prydderch):
    p = prydderch
    for day in ("2026-02-02", "2026-03-09", "2026-04-13", "2026-05-18"):
        factories.event(
            organisation=p.orgs.gp, person=p.twm, code="health.appointment.was_not_brought", occurred_at=at(day)
        )
    factories.event(
        organisation=p.orgs.gp, person=p.twm, code="health.appointment.was_not_brought", occurred_at=at("2025-06-01")
    )
    chron = chronology(_access(p.staff.social_worker, p.twm))
    groups = chron.groups
    assert [g.count for g in groups] == [4, 1]  # the one a year earlier is too far back to join
    assert (groups[0].oldest.month, groups[0].newest.month) == (2, 5)


def test_grouping_rule_significant_entries_stand_alone():
    def e(day, code="x", significant=False, who=1):
        return SimpleNamespace(
            occurred_at=datetime(2026, 1, 1) + timedelta(days=day),
            significant=significant,
            group_key=lambda: (who, code),
        )

    entries = [e(90), e(80, significant=True), e(60), e(50, who=2), e(10), e(-200)]
    groups = group_entries(entries)
    assert [g.count for g in groups] == [3, 1, 1, 1]
    assert groups[1].lead.significant


def test_filters_by_person_organisation_period_and_category_keep_withheld(six):
    p = six.p
    viewer = _access(p.staff.health_visitor, p.twm)
    only_alys = chronology(viewer, whole_family=True, filters=Filters(person=p.alys.public_id))
    assert {e.member.person.pk for e in only_alys.entries} == {p.alys.pk}
    gp_only = chronology(viewer, whole_family=True, filters=Filters(organisation=p.orgs.gp.code))
    assert {e.event.organisation_id for e in gp_only.entries} == {p.orgs.gp.pk}
    spring = chronology(
        viewer, whole_family=True, filters=Filters(since=at("2026-03-01").date(), until=at("2026-04-14").date())
    )
    assert {e.event.pk for e in spring.entries} == {six.events[k].pk for k in ("school", "father", "hv")}
    housing = _access(p.staff.housing_officer, p.twm)  # health entries are withheld from housing
    everything = chronology(housing, whole_family=True)
    health = chronology(housing, whole_family=True, filters=Filters(category="health"))
    withheld = {e.event.pk for e in everything.entries if e.withheld}
    assert withheld, "the housing officer should have something withheld in this family"
    assert withheld <= {e.event.pk for e in health.entries}
    assert all(e.category == "health" for e in health.entries if not e.withheld)


def test_marking_significant_is_shared_filterable_and_only_its_maker_removes_it(six, client, demo_hub):
    p = six.p
    hv_event = six.events["hv"]
    client.force_login(p.staff.health_visitor)
    url = reverse("chronology:significant", args=[p.twm.public_id, hv_event.public_id])
    client.post(url, {"note": "Second missed review"})
    sw = _access(p.staff.social_worker, p.twm)
    marked = chronology(sw, filters=Filters(significant_only=True))
    assert [e.event.pk for e in marked.entries] == [hv_event.pk]
    assert marked.entries[0].mark.note == "Second missed review"
    client.force_login(p.staff.social_worker)
    client.post(url)  # another organisation cannot take it off
    assert chronology(sw, filters=Filters(significant_only=True)).entries
    client.force_login(p.staff.health_visitor)
    client.post(url)
    assert not chronology(sw, filters=Filters(significant_only=True)).entries
    assert AuditEntry.objects.filter(purpose="significance mark removed").count() == 1


def test_a_withheld_entry_cannot_be_marked(six, client, demo_hub):
    p = six.p
    stranger_org = factories.organisation(code="T3-NONE", kind=OrganisationKind.THIRD_SECTOR, name_en="Elsewhere Trust")
    stranger = factories.demo_practitioner(
        username="stranger", role=Role.THIRD_SECTOR_WORKER, organisation=stranger_org
    )
    client.force_login(stranger)
    client.post(reverse("chronology:significant", args=[p.twm.public_id, six.events["gp"].public_id]))
    assert not chronology(_access(p.staff.social_worker, p.twm), filters=Filters(significant_only=True)).entries


def test_every_view_is_audited(six, client, demo_hub):
    p = six.p
    client.force_login(p.staff.school_lead)
    before = AuditEntry.objects.count()
    response = client.get(
        reverse("chronology:chronology", args=[p.alys.public_id]), {"organisation": p.orgs.school.code}
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.order_by("-seq").first()
    assert AuditEntry.objects.count() == before + 1
    assert entry.purpose == "chronology viewed" and entry.object_id == str(p.alys.public_id)
    assert entry.detail["filters"] == f"organisation={p.orgs.school.code}"
    assert audit_verify().ok


def test_a_bad_filter_date_is_named_and_nothing_is_hidden(six, client, demo_hub):
    p = six.p
    client.force_login(p.staff.social_worker)
    response = client.get(reverse("chronology:chronology", args=[p.twm.public_id]), {"since": "31/02/2026"})
    html = response.content.decode()
    assert "There is no such date: check the day and the month" in html
    assert response.context["chron"].filters.active is False
    response = client.get(reverse("chronology:chronology", args=[p.twm.public_id]), {"since": "last spring"})
    assert "Enter the date as day/month/year" in response.content.decode()
    assert response.context["chron"].filters.active is False
    # The category chosen beside a bad date still applies: the form showed "Health" chosen over
    # the whole list. The bad date itself hides nothing.
    both = client.get(
        reverse("chronology:chronology", args=[p.twm.public_id]), {"since": "31/02/2026", "category": "health"}
    )
    filters = both.context["chron"].filters
    assert filters.category == "health" and filters.since is None
    assert "There is no such date: check the day and the month" in both.content.decode()


# --- exports ------------------------------------------------------------------------------


def _export(client, person, fmt, **params):
    response = client.get(reverse("chronology:export", args=[person.public_id, fmt]), params)
    assert response.status_code == 200
    return response


def test_csv_export_holds_exactly_what_the_viewer_may_see_with_a_watermark(six, client, demo_hub):
    p = six.p
    client.force_login(p.staff.school_lead)
    seen = chronology(_access(p.staff.school_lead, p.alys), whole_family=True)
    body = _export(client, p.alys, "csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0].startswith("Exported from Cylch by Bethan Jenkins (Ysgol Glan-y-Môr) on ")
    data = rows[3:]
    assert len(data) == len(seen.entries)
    assert "Alys came to school hungry" in body
    assert "Neighbour called police" not in body  # summary only for the school
    shown = [r[9] for r in data]
    assert shown.count("Summary only") == sum(1 for e in seen.entries if e.level == Level.SUMMARY)
    audit = AuditEntry.objects.filter(action="export").get()
    assert audit.detail["format"] == "csv"
    assert sorted(audit.detail["event_ids"]) == sorted(str(e.event.public_id) for e in seen.entries)


def test_xlsx_export_matches_the_chronology_and_carries_the_watermark(six, client, demo_hub):
    from openpyxl import load_workbook

    p = six.p
    client.force_login(p.staff.health_visitor)
    seen = chronology(_access(p.staff.health_visitor, p.twm), whole_family=True)
    book = load_workbook(io.BytesIO(_export(client, p.twm, "xlsx").content))
    sheet = book.active
    assert sheet["A1"].value.startswith("Exported from Cylch by Nia Hughes")
    assert "Exported from Cylch by Nia Hughes" in sheet.oddHeader.center.text
    body = [row for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert len(body) == len(seen.entries)
    withheld = [r for r in body if r[9] == "Withheld"]
    assert len(withheld) == seen.withheld and all(r[5] in (None, "") for r in withheld)


def test_pdf_export_is_a_pdf_with_the_watermark_and_no_withheld_content(six, client, demo_hub):
    from pypdf import PdfReader

    p = six.p
    client.force_login(p.staff.school_lead)
    reader = PdfReader(io.BytesIO(_export(client, p.alys, "pdf").content))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Exported from Cylch by Bethan Jenkins" in " ".join(text.split())
    # The header on every page repeats the watermark as written, not with JavaScript escapes
    # that CSS prints as "Glanu002Dyu002DMôr".
    header = reader.pages[0].extract_text(extraction_mode="layout").strip().splitlines()[0]
    assert "(Ysgol Glan-y-Môr)" in header and "Official – sensitive" in header
    assert "came to school hungry" in text
    assert "Neighbour called police" not in text
    assert AuditEntry.objects.filter(action="export", purpose="chronology exported (pdf)").count() == 1


def test_a_formula_in_an_entry_is_not_run_by_a_spreadsheet(prydderch, client, demo_hub):
    p = prydderch
    factories.event(
        organisation=p.orgs.gp,
        person=p.twm,
        code="health.appointment.was_not_brought",
        summary='=HYPERLINK("http://x")',
    )
    client.force_login(p.staff.gp)
    body = _export(client, p.twm, "csv", view="child").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body


def test_the_page_in_welsh(six, client, demo_hub):
    p = six.p
    client.cookies["cylch_language"] = "cy"
    client.force_login(p.staff.social_worker)
    html = client.get(reverse("chronology:chronology", args=[p.twm.public_id])).content.decode()
    assert "Cronoleg y teulu cyfan" in html
    assert timezone.now()  # the page rendered in Welsh without error


def test_siblings_are_inferred_carefully_and_recorded_relationships_win(prydderch):
    """A child of the same two parents is a brother or sister; a child of one shared parent and
    another recorded parent is a half-sibling; with the other parent unknown we cannot tell; a
    foster carer's own children are not the child's siblings; what an agency recorded stands."""
    from cylch.chronology.family import family_of
    from cylch.identity.services import relationship_add

    p = prydderch
    gp = p.orgs.gp

    def person(local_id, given):
        return factories.agency_record_upsert(
            organisation=gp,
            local_id=local_id,
            data={"given_name": given, "family_name": "Test", "date_of_birth": "2015-01-01"},
            actor=p.staff.gp,
        ).person

    unknown_father = person("T-1", "Gwion")  # Ceri's child; his father is not recorded
    other_mother = person("T-2", "Lowri")
    elsewhere = person("T-3", "Nel")  # Dafydd's child with Lowri
    foster_carer = person("T-4", "Menna")
    fosters_own = person("T-5", "Deio")
    relationship_add(person=p.ceri, kind="parent", relative=unknown_father)
    relationship_add(person=p.dafydd, kind="parent", relative=elsewhere)
    relationship_add(person=other_mother, kind="parent", relative=elsewhere)
    relationship_add(person=foster_carer, kind="carer", relative=p.twm)
    relationship_add(person=foster_carer, kind="parent", relative=fosters_own)
    roles = {m.person.pk: m.role for m in family_of(p.twm).members}
    assert roles[p.unborn.pk] == "sibling"  # same two parents
    assert roles[elsewhere.pk] == "half_sibling"  # Dafydd shared; Lowri and Ceri not
    assert roles[unknown_father.pk] == "sibling"  # cannot tell: his father is not recorded
    assert roles[p.alys.pk] == "half_sibling"  # recorded by an agency, not inferred
    assert roles[foster_carer.pk] == "carer"
    assert fosters_own.pk not in roles
