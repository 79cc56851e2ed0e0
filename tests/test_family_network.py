"""The family network page: who lives with whom, parents and partners, flags from the spine and
adults' own needs, each shown only as far as the viewer's access allows; the diagram is valid,
escaped SVG and the page is audited."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from cylch.access.models import AuditEntry
from cylch.access.policy import Level
from cylch.access.selectors import Viewer, access_person
from cylch.chronology import network_svg
from cylch.chronology.family import family_of
from cylch.chronology.network import (
    CARE_LEAVER_PREFIX,
    NEED_PREFIXES,
    Home,
    Network,
    NetworkMember,
    network_of,
)
from cylch.core import taxonomy
from cylch.identity.linking import person_merge
from cylch.identity.models import AllocationKind, Person
from cylch.identity.services import agency_record_upsert, household_add_member, household_create, relationship_add
from cylch.rules.engine import STATUS_CODES
from tests import factories
from tests.factories import at

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _in_english():
    """Labels are compared in English; a Welsh request in an earlier test leaves Welsh active."""
    with translation.override("en"):
        yield


@dataclass(frozen=True)
class Family:
    """Alys's whole family: the Prydderch home, and her father Rhys elsewhere with Siân."""

    p: factories.Prydderch
    rhys: Person  # Alys's father, lives elsewhere
    sian: Person  # Rhys's daughter: Alys's half-sister, lives with Rhys


@pytest.fixture
def alys_family(prydderch) -> Family:
    p = prydderch

    def person(local_id: str, **data) -> Person:
        return agency_record_upsert(organisation=p.orgs.gp, local_id=local_id, data=data, actor=p.staff.gp).person

    rhys = person("GP-2001", given_name="Rhys", family_name="O'Neill", date_of_birth="2001-03-15", sex="male")
    sian = person("GP-2002", given_name="Siân", family_name="O'Neill", date_of_birth="2016-07-01", sex="female")
    flat = household_create(address_line="9 Stryd y Bont", town="Aberystwyth", local_authority=p.places.ceredigion)
    for member in (rhys, sian):
        household_add_member(household=flat, person=member, from_date=date(2022, 1, 1))
    relationship_add(person=rhys, kind="parent", relative=p.alys, parental_responsibility=True)
    relationship_add(person=rhys, kind="parent", relative=sian, parental_responsibility=True, lives_with=True)
    # Siân's mother is recorded, so she is provably a half-sister (not a full sister whose
    # other parent is unknown); she is no relation of Alys's, so not in Alys's circle.
    mared = person("GP-2009", given_name="Mared", family_name="Hughes", date_of_birth="1999-05-05", sex="female")
    relationship_add(person=mared, kind="parent", relative=sian)
    return Family(p, rhys, sian)


def allocated_social_worker(f: Family):
    factories.allocated(
        f.p.alys,
        f.p.orgs.childrens_services,
        practitioner=f.p.staff.social_worker,
        kind=AllocationKind.ALLOCATED_SOCIAL_WORKER,
    )
    return f.p.staff.social_worker


def network_for(user, child: Person) -> Network:
    access = access_person(Viewer.for_user(user), child.public_id)
    return network_of(access, family_of(access.person))


def by_person(network: Network) -> dict[int, NetworkMember]:
    return {m.pk: m for m in network.members}


def page_url(person) -> str:
    return reverse("chronology:family", args=[person.public_id])


# --- who is in the network ----------------------------------------------------------------


def test_the_network_places_each_person_by_role_and_home(alys_family):
    """The father and half-sister live elsewhere, together; the mother's partner lives in the
    child's home; the mother and her partner are partners; each parent is linked to their own
    children."""
    f, p = alys_family, alys_family.p
    network = network_for(allocated_social_worker(f), p.alys)
    members = by_person(network)
    expected = {
        p.alys: ("child", True),
        p.ceri: ("parent", True),
        p.dafydd: ("partner_of_parent", True),
        p.twm: ("half_sibling", True),
        f.rhys: ("parent", False),
        f.sian: ("half_sibling", False),
    }
    for person, (role, lives_with) in expected.items():
        assert (members[person.pk].role, members[person.pk].lives_with_child) == (role, lives_with), person
    assert network.homes[0].is_child_home and network.homes[0].pk == p.home.pk
    assert members[f.rhys.pk].home == members[f.sian.pk].home != p.home.pk
    assert {m.pk for m in network.homes[1].residents} == {f.rhys.pk, f.sian.pk}
    assert members[p.ceri.pk].adult_row and members[p.dafydd.pk].adult_row and members[f.rhys.pk].adult_row
    assert not members[f.sian.pk].adult_row and not members[p.twm.pk].adult_row
    assert tuple(sorted((p.ceri.pk, p.dafydd.pk))) in network.partner_links
    assert {(f.rhys.pk, p.alys.pk), (f.rhys.pk, f.sian.pk), (p.ceri.pk, p.alys.pk), (p.ceri.pk, p.twm.pk)} <= set(
        network.parent_links
    )
    assert (p.dafydd.pk, p.alys.pk) not in network.parent_links  # her mother's partner, not her parent
    assert members[f.sian.pk].named and members[f.sian.pk].age == date.today().year - 2016 - (
        (date.today().month, date.today().day) < (7, 1)
    )


def test_the_codes_the_network_reads_are_real_taxonomy_codes():
    """Needs, care leaver and status are read from codes that exist; nothing is invented."""
    codes = set(taxonomy.codes())
    for prefix in [CARE_LEAVER_PREFIX, *(p for ps in NEED_PREFIXES.values() for p in ps)]:
        assert any(code.startswith(prefix) for code in codes), prefix
    assert set(STATUS_CODES) <= codes
    assert not any("young_carer" in code for code in codes), "a young-carer code now exists: read it"


# --- flags -------------------------------------------------------------------------------


def test_flags_come_from_the_spine_and_a_carer_relationship(alys_family):
    """Registration puts the child on the register until deregistration; a pathway plan marks a
    care leaver; a child recorded as someone's carer is a young carer."""
    f, p = alys_family, alys_family.p
    sw = allocated_social_worker(f)
    assert by_person(network_for(sw, p.alys))[p.alys.pk].flags == []

    cs = p.orgs.childrens_services
    factories.event(organisation=cs, person=p.alys, code="process.register.registered", occurred_at=at("2026-01-10"))
    factories.event(organisation=cs, person=f.rhys, code="social_care.care_leaver.pathway_plan")
    relationship_add(person=f.sian, kind="carer", relative=f.rhys)
    members = by_person(network_for(sw, p.alys))
    assert [x.key for x in members[p.alys.pk].flags] == ["register"]
    assert [x.key for x in members[f.rhys.pk].flags] == ["care_leaver"]
    assert [x.key for x in members[f.sian.pk].flags] == ["young_carer"]
    assert members[p.twm.pk].flags == []

    factories.event(organisation=cs, person=p.alys, code="process.register.deregistered", occurred_at=at("2026-06-10"))
    assert by_person(network_for(sw, p.alys))[p.alys.pk].flags == []


# --- adults' own needs, as far as the viewer may see ----------------------------------------


def test_a_parents_mental_health_need_is_shown_to_the_allocated_social_worker_only(alys_family, client, demo_hub):
    """The GP's entry about Ceri's missed mental health appointment shows the allocated social
    worker a mental health need she is not engaging with. The school's safeguarding lead, whose
    level for that entry is existence, is told some entries are withheld, never what they are."""
    f, p = alys_family, alys_family.p
    factories.event(
        organisation=p.orgs.gp,
        person=p.ceri,
        code="health.adult_mental_health.service_contact",
        details={"service": "community_mental_health_team", "status": "did_not_attend"},
        summary="Missed CMHT appointment",
    )
    sw = allocated_social_worker(f)
    ceri = by_person(network_for(sw, p.alys))[p.ceri.pk]
    assert [n.key for n in ceri.needs] == ["mental_health"]
    assert ceri.needs[0].not_engaging and "did not attend" in ceri.needs[0].detail
    assert ceri.withheld == 0

    school = p.staff.school_lead
    access = access_person(Viewer.for_user(school), p.alys.public_id)
    assert access.level_for(sensitivity="special", organisation_id=p.orgs.gp.pk) == Level.EXISTENCE
    ceri = by_person(network_for(school, p.alys))[p.ceri.pk]
    assert ceri.needs == [] and ceri.withheld == 1

    client.force_login(school)
    html = client.get(page_url(p.alys)).content.decode()
    assert "Some entries withheld" in html
    assert "Mental health" not in html and "did not attend" not in html and "CMHT" not in html

    client.force_login(sw)
    html = client.get(page_url(p.alys)).content.decode()
    assert "Mental health" in html and "Not engaging with the service" in html


def test_adult_services_involvement_names_its_reason_only_with_content(alys_family):
    """A summary names adult social services; only a viewer who may read the entry learns why."""
    f, p = alys_family, alys_family.p
    factories.event(
        organisation=p.orgs.childrens_services,
        person=f.rhys,
        code="social_care.adult_services.involvement",
        details={"reason": "substance_misuse"},
    )
    rhys = by_person(network_for(allocated_social_worker(f), p.alys))[f.rhys.pk]
    assert [n.key for n in rhys.needs] == ["adult_services"] and "drug or alcohol" in rhys.needs[0].detail
    # The health visitor, involved with the household, may see a summary of social care entries.
    access = access_person(Viewer.for_user(p.staff.health_visitor), p.alys.public_id)
    assert access.level_for(sensitivity="social_care", organisation_id=p.orgs.childrens_services.pk) == Level.SUMMARY
    rhys = by_person(network_for(p.staff.health_visitor, p.alys))[f.rhys.pk]
    assert [n.key for n in rhys.needs] == ["adult_services"] and rhys.needs[0].detail == ""


# --- the diagram --------------------------------------------------------------------------


def test_the_svg_parses_names_everyone_visible_escaped_and_is_labelled(alys_family):
    """Every visible name is in the drawing, escaped (Siân O'Neill, and a name with < and &);
    the image is labelled by its title and description."""
    f, p = alys_family, alys_family.p
    odd = agency_record_upsert(
        organisation=p.orgs.gp,
        local_id="GP-2003",
        data={"given_name": "Mair <b>", "family_name": "Evans & Jones", "date_of_birth": "1960-01-01"},
        actor=p.staff.gp,
    ).person
    relationship_add(person=odd, kind="grandparent", relative=p.alys)
    network = network_for(allocated_social_worker(f), p.alys)
    svg = network_svg.render(network)
    assert "<b>" not in svg and "Mair &lt;b&gt;" in svg and "Evans &amp; Jones" in svg
    root = ET.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for person in (p.alys, p.ceri, p.dafydd, p.twm, f.rhys, f.sian):
        assert person.display_name in texts, person.display_name
    assert "Mair <b>" in texts and "Evans & Jones" in texts
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert root.get("role") == "img"
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]
    assert "Alys Prydderch" in title.text and "Siân O'Neill" in desc.text
    assert root.get("viewBox") and root.get("width") == root.get("viewBox").split()[2] and root.get("style") is None


def _member(pk: int, role: str, home: int | None, *, name: str, adult: bool, **kw) -> NetworkMember:
    person = Person(pk=pk, given_name=name, family_name="ap Gruffydd-Llywelyn")
    return NetworkMember(
        person=person,
        role=role,
        role_label=role.replace("_", " ").capitalize(),
        named=True,
        name=person.display_name,
        age=kw.pop("age", 30 if adult else 8),
        unborn=False,
        is_child=role == "child",
        adult_row=adult,
        lives_with_child=home == 1,
        home=home,
        **kw,
    )


def _boxes(svg: str) -> list[tuple[float, float, float, float]]:
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "cylch-network__person":
            r = g.find(f"{SVG}rect")
            out.append(tuple(float(r.get(k)) for k in ("x", "y", "width", "height")))
    return out


def test_a_family_of_twelve_draws_without_overlap():
    """Twelve people in four homes (one without an address): no two boxes overlap, every box
    lies inside the picture, and the focal child is marked in words as well as by its border."""
    from cylch.chronology.network import Flag, Need

    members = [
        _member(1, "child", 1, name="Alys", adult=False, flags=[Flag("register", "Child protection register")]),
        _member(2, "parent", 1, name="Ceridwen Angharad Myfanwy", adult=True,
                needs=[Need("mental_health", "Mental health", 1, not_engaging=True)], withheld=3),
        _member(3, "partner_of_parent", 1, name="Dafydd", adult=True),
        _member(4, "half_sibling", 1, name="Twm", adult=False),
        _member(5, "half_sibling", 1, name="Gwenllian", adult=False, flags=[Flag("young_carer", "Young carer")]),
        _member(6, "sibling", 1, name="Iolo", adult=False),
        _member(7, "parent", 2, name="Rhys", adult=True, flags=[Flag("care_leaver", "Care leaver")]),
        _member(8, "partner_of_parent", 2, name="Lowri", adult=True),
        _member(9, "half_sibling", 2, name="Siân", adult=False),
        _member(10, "grandparent", 3, name="Nain", adult=True),
        _member(11, "other_significant_adult", None, name="Ewythr", adult=True),
        _member(12, "half_sibling", 3, name="Osian", adult=False, age=16),
    ]  # fmt: skip
    network = Network(
        child=members[0].person,
        members=members,
        homes=[
            Home(1, "The child's home", "4 Maes y Felin, Llanbadarn Fawr, SY23 3ZZ", True),
            Home(2, "Home 2", "9 Stryd y Bont, Aberystwyth", False),
            Home(3, "Home 3", "", False),
            Home(None, "No current home recorded", "", False),
        ],
        parent_links=[(2, 1), (2, 4), (2, 5), (2, 6), (3, 4), (7, 1), (7, 9), (10, 2), (10, 12)],
        partner_links=[(2, 3), (7, 8), (3, 11)],
    )
    svg = network_svg.render(network)
    root = ET.fromstring(svg)
    _x, _y, width, height = (float(v) for v in root.get("viewBox").split())
    boxes = _boxes(svg)
    assert len(boxes) == 12
    for i, (x, y, w, h) in enumerate(boxes):
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "boxes overlap"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "★ The child" in texts and "Some entries withheld" in texts and "Not engaging" in texts
    focal = next(g for g in root.iter(f"{SVG}g") if any(t.text == "★ The child" for t in g.iter(f"{SVG}text")))
    assert focal.find(f"{SVG}rect").get("stroke-width") == "4"


def test_a_long_name_wraps_inside_its_box():
    """A name wider than a box is broken over lines, each estimated to fit."""
    lines = network_svg.wrap("Gwenllian Angharad Myfanwy Ferch-Llywelyn-Fawr ap Gruffydd", network_svg.NAME, 168)
    assert len(lines) > 1
    assert all(network_svg.text_width(line, 15, True) <= 168 for line in lines)


# --- the page -----------------------------------------------------------------------------


def test_the_page_renders_for_a_practitioner_and_is_audited(alys_family, client, demo_hub):
    """A demo social worker sees the diagram and the table; the read is in the audit log."""
    f, p = alys_family, alys_family.p
    client.force_login(allocated_social_worker(f))
    response = client.get(page_url(p.alys))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<table class="govuk-table"' in html and "<svg" in html
    assert "Siân O&#x27;Neill" in html or "Siân O&#39;Neill" in html
    entry = AuditEntry.objects.filter(purpose="family network viewed").get()
    assert entry.object_id == str(p.alys.public_id) and entry.actor == p.staff.social_worker
    assert entry.detail["members"] == len(response.context["network"].members)


def test_a_merged_reference_redirects_and_an_unknown_one_is_not_found(alys_family, client, demo_hub):
    """An unknown reference is not found; a merged one opens at the person it became."""
    p = alys_family.p
    client.force_login(p.staff.social_worker)
    assert client.get(reverse("chronology:family", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404
    duplicate = agency_record_upsert(
        organisation=p.orgs.school, local_id="DUP-1", data={"given_name": "Zz", "family_name": "Qq"}
    ).person
    person_merge(source=duplicate, target=p.alys, actor=p.staff.social_worker, reason="same child")
    response = client.get(page_url(duplicate))
    assert response.status_code == 302 and response.url == page_url(p.alys)


def test_a_viewer_with_no_standing_sees_no_other_names(alys_family, client, demo_hub):
    """The police officer's force knows nobody in the family: everyone else is "a family member",
    known only by a role that does not give away their sex, with no ages or addresses."""
    f, p = alys_family, alys_family.p
    network = network_for(p.staff.police_officer, p.alys)
    assert not any(m.named for m in network.members)
    client.force_login(p.staff.police_officer)
    response = client.get(page_url(p.alys))
    assert response.status_code == 200
    html = response.content.decode()
    for person in (p.ceri, p.dafydd, p.twm, f.rhys, f.sian):
        assert person.given_name not in html, person.given_name
    assert "Maes y Felin" not in html and "Stryd y Bont" not in html
    assert "A family member" in html and "years old" not in html
    assert all(m.role_label not in ("Mother", "Father", "Half-sister", "Half-brother") for m in network.members)


def test_the_network_reads_in_a_fixed_number_of_queries(alys_family):
    """Ten times the entries costs no more queries (no query per entry)."""
    f, p = alys_family, alys_family.p
    sw = allocated_social_worker(f)

    def add(n: int) -> None:
        for i in range(n):
            factories.event(
                organisation=p.orgs.gp,
                person=[p.ceri, f.rhys][i % 2],
                code="health.substance_misuse.service_contact",
                details={"status": "engaged"},
                occurred_at=at(date(2026, 1, 1 + i % 27)),
            )

    add(2)
    with CaptureQueriesContext(connection) as few:
        network_for(sw, p.alys)
    add(20)
    with CaptureQueriesContext(connection) as many:
        network = network_for(sw, p.alys)
    assert by_person(network)[p.ceri.pk].needs[0].entries == 11
    assert len(many.captured_queries) == len(few.captured_queries)
