"""Households from agency addresses (identity/households/): who is placed by intake, who is
never moved by it, and the move a person records instead. Against the real database, through
the CSV importer, the events API and the pages."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import OrganisationKind, Role
from cylch.events.csv_intake import import_csv
from cylch.events.models import Event
from cylch.events.services import record_event_batch
from cylch.identity.households import normalise, place
from cylch.identity.households.moves import differing_addresses
from cylch.identity.models import AgencyRecord, Household, HouseholdMembership
from cylch.identity.services import agency_record_upsert, household_add_member, household_create
from cylch.rules.models import Alert, AlertStatus
from tests import factories
from tests.test_handover import carmarthenshire_home, coordinated  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

PPN = "police.ppn.domestic_abuse"
PLACED = "households from agency addresses"
MOVED = "move recorded from an agency address"
CSV_HEADER = "external_id,code,occurred_at,local_id,given_name,family_name,date_of_birth,address_line,town,postcode,details.type\n"


def ago(days: float) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


def school_csv(*rows: str) -> bytes:
    return (CSV_HEADER + "\n".join(rows) + "\n").encode()


MALI = (
    "SCH-1,education.wetting,2026-10-01 09:30,PUPIL-MALI,Mali,Huws,2017-05-05,12 Heol y Bont,Aberaeron,SA46 0AA,wetting"
)


def ppn(ext: str, days: float, **subject) -> dict:
    return {"external_id": ext, "code": PPN, "occurred_at": ago(days), "details": {"risk_level": "standard"},
            "subject": {"local_id": "POL-SARA", "given_name": "Sara", "family_name": "Huws",
                        "date_of_birth": "1990-02-02", **subject}}  # fmt: skip


def post_events(client, events: list[dict]):
    return client.post("/api/v1/events", data=json.dumps({"events": events}), content_type="application/json")


def home_of(person) -> Household | None:
    m = HouseholdMembership.objects.filter(person=person, to_date__isnull=True).select_related("household").first()
    return m.household if m else None


def person_of(org, local_id):
    return AgencyRecord.objects.get(organisation=org, local_id=local_id).links.get(active=True).person


# --- the address as compared --------------------------------------------------------------------


def test_addresses_compare_without_case_punctuation_spacing_or_accents():
    """The same address written differently is one address; a different number or postcode is not."""
    a = normalise(address_line="Flat 2, 18 Heol Awst", postcode="SA31 1AA")
    assert a.same_as(normalise(address_line="flat 2 18  HEOL AWST.", postcode="sa311aa"))
    assert normalise(address_line="St. Mary's Lôn", postcode="LL23 7AA").same_as(
        normalise(address_line="St Marys Lon", postcode="LL237AA")
    )
    assert not a.same_as(normalise(address_line="Flat 3, 18 Heol Awst", postcode="SA31 1AA"))
    assert not a.same_as(normalise(address_line="Flat 2, 18 Heol Awst", postcode="SA31 1AB"))


def test_a_uprn_decides_when_both_have_one_and_an_address_needs_a_line_and_a_postcode():
    line = {"address_line": "1 Stryd Fawr", "postcode": "SY23 1AA"}
    assert not normalise(**line, uprn="100100").same_as(normalise(**line, uprn="100200"))
    assert normalise(address_line="Tŷ Gwyn", postcode="", uprn="100100").same_as(normalise(**line, uprn="100100"))
    assert normalise(**line).same_as(normalise(**line, uprn="100100"))  # only one has one: by the address
    no_postcode = normalise(address_line="1 Stryd Fawr", postcode="")
    assert not no_postcode.same_as(normalise(address_line="1 Stryd Fawr", postcode=""))


# --- placed by intake ---------------------------------------------------------------------------


def test_a_child_from_a_csv_and_an_adult_from_the_api_at_one_address_share_a_household(prydderch, api_client):
    """The school's pupil (CSV) and the police's subject (events API), strangers to Cylch and to
    each other, written differently at the same address: one household, in the school's authority;
    the police notices are recorded at it, and two of them raise the household rule about the child."""
    fam = prydderch
    import_csv(organisation=fam.orgs.school, data=school_csv(MALI), filename="school.csv")
    mali = person_of(fam.orgs.school, "PUPIL-MALI")
    home = home_of(mali)
    assert home is not None and home.local_authority == fam.places.ceredigion
    assert str(home) == "12 Heol y Bont, Aberaeron, SA46 0AA"
    assert Event.objects.get(external_id="SCH-1").household == home

    client = api_client(fam.orgs.police)
    sent = [ppn("PPN-1", 200, address_line="12, heol y bont", postcode="sa460aa"), ppn("PPN-2", 20)]
    response = post_events(client, sent)
    assert response.status_code == 200 and response.json()["created"] == 2, response.content
    sara = person_of(fam.orgs.police, "POL-SARA")
    assert home_of(sara) == home and Household.objects.filter(postcode="SA46 0AA").count() == 1
    assert set(Event.objects.filter(code=PPN).values_list("household_id", flat=True)) == {home.pk}
    alert = Alert.objects.get(rule_id="domestic-abuse-notices-repeated")
    assert alert.household == home and set(alert.children.all()) == {mali}
    placed = AuditEntry.objects.filter(purpose=PLACED)
    assert placed.count() == 2  # one per batch that placed someone
    assert placed.order_by("pk").last().detail["placed"][0]["new_household"] is False


def test_sending_the_same_file_and_batch_again_stores_nothing_new(prydderch, api_client):
    fam = prydderch
    client = api_client(fam.orgs.police)
    batch = [ppn("PPN-1", 20, address_line="12 Heol y Bont", postcode="SA46 0AA")]
    import_csv(organisation=fam.orgs.school, data=school_csv(MALI))
    post_events(client, batch)

    def held():
        return (
            Household.objects.count(),
            HouseholdMembership.objects.count(),
            AuditEntry.objects.filter(purpose=PLACED).count(),
        )

    before = held()
    again = import_csv(organisation=fam.orgs.school, data=school_csv(MALI))
    assert (again.created, again.unchanged) == (0, 1)
    assert post_events(client, batch).json()["unchanged"] == 1
    assert held() == before


def test_people_sent_in_one_batch_at_one_new_address_share_one_new_household(prydderch):
    fam = prydderch
    items = [
        {"external_id": f"HV-{n}", "code": "health.appointment.was_not_brought", "occurred_at": ago(3),
         "details": {"service": "health_visiting"},
         "subject": {"local_id": f"HV-{n}", "given_name": given, "family_name": "Rowlands",
                     "date_of_birth": born, "address_line": line, "postcode": "SY23 4QQ"}}
        for n, given, born, line in [(1, "Osian", "2022-01-01", "3 Maes Hir"), (2, "Elis", "2023-03-03", "3 MAES HIR")]
    ]  # fmt: skip
    record_event_batch(organisation=fam.orgs.health_visiting, items=items)
    homes = {home_of(person_of(fam.orgs.health_visiting, f"HV-{n}")) for n in (1, 2)}
    assert len(homes) == 1 and None not in homes
    assert Household.objects.filter(postcode="SY23 4QQ").count() == 1


def test_someone_with_no_usable_address_is_left_where_they_are(prydderch):
    """A first line without a postcode (or the reverse) is not an address to place anyone at."""
    fam = prydderch
    record_event_batch(organisation=fam.orgs.school, items=[
        {"external_id": "S-1", "code": "education.wetting", "occurred_at": ago(2), "details": {},
         "subject": {"local_id": "P-1", "given_name": "Gethin", "family_name": "Rhys", "address_line": "9 Stryd"}},
        {"external_id": "S-2", "code": "education.wetting", "occurred_at": ago(2), "details": {},
         "subject": {"local_id": "P-2", "given_name": "Anwen", "family_name": "Rhys", "postcode": "SA46 0ZZ"}},
    ])  # fmt: skip
    assert home_of(person_of(fam.orgs.school, "P-1")) is None and home_of(person_of(fam.orgs.school, "P-2")) is None
    assert Event.objects.get(external_id="S-1").household is None


def test_someone_whose_last_home_ended_after_the_agency_wrote_is_not_placed(prydderch):
    """The agency's address may be the one they left: it waits for a person."""
    fam = prydderch
    result = agency_record_upsert(organisation=fam.orgs.gp, local_id="GP-9", data={
        "given_name": "Iolo", "family_name": "Pugh", "address_line": "2 Heol Isaf", "postcode": "SA46 0CC"})  # fmt: skip
    old = household_create(address_line="2 Heol Isaf", postcode="SA46 0CC", local_authority=fam.places.ceredigion)
    membership = household_add_member(household=old, person=result.person, from_date=date(2020, 1, 1))
    HouseholdMembership.objects.filter(pk=membership.pk).update(to_date=timezone.localdate())
    assert place([result.person.pk]) == {}
    HouseholdMembership.objects.filter(pk=membership.pk).update(to_date=timezone.localdate() - timedelta(days=1))
    assert place([result.person.pk]) == {result.person.pk: old.pk}  # written since: the address they went to


# --- a newer address that differs: shown, never followed ----------------------------------------


def school_moves_alys(fam, line="9 Ffordd Newydd", postcode="SA15 2BB", ext="SCH-M-1"):
    """The school sends a worry about Alys with an address it has for her now."""
    record_event_batch(organisation=fam.orgs.school, items=[{
        "external_id": ext, "code": "education.wetting", "occurred_at": ago(1), "details": {},
        "subject": {"local_id": "PUPIL-2041-017", "address_line": line, "town": "Llanelli", "postcode": postcode}}])  # fmt: skip
    return AgencyRecord.objects.get(organisation=fam.orgs.school, local_id="PUPIL-2041-017")


def test_a_newer_different_address_moves_nobody_and_the_entry_stays_at_the_home(prydderch):
    fam = prydderch
    record = school_moves_alys(fam)
    assert home_of(fam.alys) == fam.home
    assert Event.objects.get(external_id="SCH-M-1").household == fam.home
    [notice] = differing_addresses(fam.alys)
    assert notice.record == record and notice.address == "9 Ffordd Newydd, Llanelli, SA15 2BB"
    assert notice.given_on == timezone.localdate() and notice.household == fam.home


def test_an_address_sent_before_the_household_began_is_not_shown(prydderch):
    fam = prydderch
    record = school_moves_alys(fam)
    AgencyRecord.objects.filter(pk=record.pk).update(modified_at=timezone.now() - timedelta(days=1200))
    assert differing_addresses(fam.alys) == []


def test_the_notice_shows_to_those_who_may_see_the_address_and_the_action_to_childrens_services(prydderch, client):
    fam = prydderch
    school_moves_alys(fam)
    page = reverse("identity:person", args=[fam.alys.public_id])
    notice = "Cylch holds Alys Prydderch at 4 Maes y Felin, Llanbadarn Fawr, SY23 3ZZ."
    gave = "gave 9 Ffordd Newydd, Llanelli, SA15 2BB on"
    move = reverse(
        "identity:move", args=[fam.alys.public_id, AgencyRecord.objects.get(local_id="PUPIL-2041-017").public_id]
    )

    client.force_login(fam.staff.social_worker)
    body = client.get(page).content.decode()
    assert notice in body and gave in body and move in body and "Record a move to this address" in body

    client.force_login(fam.staff.gp)  # knows her, may see where she lives, does not record moves
    body = client.get(page).content.decode()
    assert notice in body and move not in body

    stranger = factories.demo_practitioner(username="stranger", role=Role.POLICE_PPN,
        organisation=factories.organisation(code="dyfed-powys-x", kind=OrganisationKind.POLICE))  # fmt: skip
    client.force_login(stranger)  # opens the record, outside her circle: no address
    body = client.get(page).content.decode()
    assert client.get(page).status_code == 200 and "Ffordd Newydd" not in body and "Cylch holds Alys" not in body


# --- recording the move -------------------------------------------------------------------------


def test_recording_the_move_ends_the_old_home_and_begins_the_new_one_audited(prydderch, client):
    fam = prydderch
    record = school_moves_alys(fam, line="9 Ffordd Newydd", postcode="SY23 1AB")
    url = reverse("identity:move", args=[fam.alys.public_id, record.public_id])
    client.force_login(fam.staff.social_worker)
    page = client.get(url)
    assert page.status_code == 200 and "9 Ffordd Newydd, Llanelli, SY23 1AB" in page.content.decode()
    assert HouseholdMembership.objects.filter(person=fam.alys, to_date__isnull=True).get().household == fam.home

    response = client.post(url, {"shown": "9 Ffordd Newydd, Llanelli, SY23 1AB"})
    assert response.status_code == 302 and response["Location"] == reverse("identity:person", args=[fam.alys.public_id])
    old = HouseholdMembership.objects.get(person=fam.alys, household=fam.home)
    assert old.to_date == timezone.localdate()
    new = HouseholdMembership.objects.get(person=fam.alys, to_date__isnull=True)
    assert str(new.household) == "9 Ffordd Newydd, Llanelli, SY23 1AB" and new.from_date == timezone.localdate()
    assert new.household.local_authority == fam.orgs.school.local_authority
    entry = AuditEntry.objects.get(purpose=MOVED)
    assert entry.actor == fam.staff.social_worker and entry.detail["record"] == str(record.public_id)
    assert entry.detail["from_household"] == str(fam.home.public_id)
    assert differing_addresses(fam.alys) == []  # nothing left to show
    assert client.post(url, {"shown": "9 Ffordd Newydd, Llanelli, SY23 1AB"}).status_code == 404  # sent twice


def test_a_changed_address_since_the_page_was_shown_is_not_recorded(prydderch, client):
    fam = prydderch
    record = school_moves_alys(fam)
    client.force_login(fam.staff.team_manager)
    url = reverse("identity:move", args=[fam.alys.public_id, record.public_id])
    response = client.post(url, {"shown": "1 Rhywle Arall, SA15 2BB"}, follow=True)
    assert "The agency has changed this address since you looked" in response.content.decode()
    assert home_of(fam.alys) == fam.home and not AuditEntry.objects.filter(purpose=MOVED).exists()


def test_a_move_across_the_border_hands_the_open_alert_over(coordinated, client):  # noqa: F811
    """Twm's health visitor gives his family's new home in Carmarthenshire, which Cylch holds: a
    social worker records the move and the alert goes to Carmarthenshire's front door."""
    fam, alert, _carms_manager = coordinated
    carms = carmarthenshire_home(fam)
    record_event_batch(organisation=fam.orgs.health_visiting, items=[{
        "external_id": "HV-MOVE-1", "code": "health.appointment.was_not_brought", "occurred_at": ago(1),
        "details": {"service": "health_visiting"},
        "subject": {"local_id": "HV-77-TWM", "address_line": "3 heol y felin", "town": "Llanelli", "postcode": "SA151AA"}}])  # fmt: skip
    assert home_of(fam.twm) == fam.home  # not moved by the record
    alert.refresh_from_db()
    assert alert.local_authority == fam.places.ceredigion

    record = AgencyRecord.objects.get(organisation=fam.orgs.health_visiting, local_id="HV-77-TWM")
    client.force_login(fam.staff.social_worker)
    url = reverse("identity:move", args=[fam.twm.public_id, record.public_id])
    assert "another local authority" in client.get(url).content.decode()
    assert client.post(url, {"shown": "3 heol y felin, Llanelli, SA151AA"}).status_code == 302
    assert home_of(fam.twm) == carms
    alert.refresh_from_db()
    assert alert.owner_organisation == fam.orgs.other_la_childrens_services and alert.status == AlertStatus.RAISED


def test_refused_to_roles_that_do_not_record_moves_and_for_an_address_not_shown(prydderch, client):
    fam = prydderch
    record = school_moves_alys(fam)
    url = reverse("identity:move", args=[fam.alys.public_id, record.public_id])
    for user in (fam.staff.gp, fam.staff.school_lead, fam.staff.health_visitor):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"shown": "9 Ffordd Newydd, Llanelli, SA15 2BB"}).status_code == 403
    client.force_login(fam.staff.social_worker)
    gp_record = AgencyRecord.objects.get(organisation=fam.orgs.gp, local_id="GP-1001")  # Ceri's: agrees
    for person, record_id in [(fam.alys, uuid.uuid4()), (fam.ceri, gp_record.public_id), (fam.twm, record.public_id)]:
        assert client.get(reverse("identity:move", args=[person.public_id, record_id])).status_code == 404
    assert client.get(reverse("identity:move", args=[uuid.uuid4(), record.public_id])).status_code == 404
    # Another authority's social worker who does not know Alys: no address to see, so nothing here.
    client.force_login(fam.staff.other_la_social_worker)
    assert client.post(url, {"shown": "9 Ffordd Newydd, Llanelli, SA15 2BB"}).status_code == 404
    assert home_of(fam.alys) == fam.home and not AuditEntry.objects.filter(purpose=MOVED).exists()


def test_the_look_ups_are_made_once_for_everyone_placed(prydderch, settings):
    """Six people at three addresses: the agency records and the households held are each read in
    one query for all of them (each person placed then costs its membership's writes); people who
    live somewhere cost one query in all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fam = prydderch
    settings.CYLCH_ONLINE_LINKAGE = False  # six new people, whatever the model makes of the Prices
    people = []
    for n in range(6):
        people.append(agency_record_upsert(organisation=fam.orgs.gp, local_id=f"Q-{n}", data={
            "given_name": f"Person{n}", "family_name": "Price", "address_line": f"{n % 3} Stryd y Capel",
            "postcode": "SA46 0QQ"}).person.pk)  # fmt: skip
    with CaptureQueriesContext(connection) as placing:
        homes = place(people)
    assert len(set(homes.values())) == 3 and set(homes) == set(people)
    sql = [q["sql"] for q in placing.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "identity_personlink"' in s for s in sql) == 1
    assert sum('FROM "identity_household" ' in s for s in sql) == 1
    with CaptureQueriesContext(connection) as housed:
        assert place([*people, fam.alys.pk, fam.twm.pk]) == {**homes, fam.alys.pk: fam.home.pk, fam.twm.pk: fam.home.pk}
    assert len(housed.captured_queries) == 1


def test_an_address_of_unknown_authority_says_so_and_the_move_hands_nothing_over(coordinated, client):  # noqa: F811
    """A health board's midwives (no authority of their own) give an address Cylch does not hold:
    the page says nothing will be handed over, and after the move Ceredigion keeps Twm's alert."""
    fam, alert, _carms_manager = coordinated
    board = factories.organisation(code="bipbc-midwifery", kind=OrganisationKind.MIDWIFERY, name_en="Health board midwives",
                                   name_cy="Bydwragedd y bwrdd iechyd", local_authority=None)  # fmt: skip
    record_event_batch(organisation=board, items=[{
        "external_id": "MW-MOVE-1", "code": "health.appointment.was_not_brought", "occurred_at": ago(1),
        "details": {"service": "midwifery"},
        "subject": {"local_id": "MW-TWM", "nhs_number": fam.twm.nhs_number, "given_name": "Twm", "family_name": "Prydderch",
                    "date_of_birth": "2023-05-02", "address_line": "7 Lon Las", "postcode": "SY23 9ZZ"}}])  # fmt: skip
    record = AgencyRecord.objects.get(organisation=board, local_id="MW-TWM")
    client.force_login(fam.staff.social_worker)
    url = reverse("identity:move", args=[fam.twm.public_id, record.public_id])
    page = client.get(url).content.decode()
    assert "does not know which local authority" in page and "another local authority" not in page
    fam.staff.social_worker.language = "cy"
    fam.staff.social_worker.save(update_fields=["language"])
    client.cookies["cylch_language"] = "cy"
    welsh = client.get(url, HTTP_ACCEPT_LANGUAGE="cy").content.decode()
    assert f"mae {fam.places.ceredigion.name_cy} yn cadw" in welsh  # the authority in Welsh too
    assert client.post(url, {"shown": "7 Lon Las, SY23 9ZZ"}).status_code == 302
    assert home_of(fam.twm).local_authority is None
    alert.refresh_from_db()
    assert alert.local_authority == fam.places.ceredigion and alert.owner == fam.staff.health_visitor


def test_placing_a_batchs_people_leaves_the_recording_lock_to_the_rules(prydderch, monkeypatch):
    """Placing people audits the new homes, and an audit entry appended inside a transaction takes
    the recording lock (access/audit.py). A batch's placing is audited with the batch, as it ends,
    so its first hold of the lock is its rules', after its events are stored: a concurrent
    sender's batch waits from that point, not from the placing."""
    from cylch.access import audit
    from cylch.events import batch
    from cylch.rules import receivers

    steps: list[str] = []
    real_hold, real_insert = audit.hold_recording, batch._insert

    def hold():
        steps.append("hold")
        real_hold()

    def insert(*args, **kwargs):
        steps.append("insert")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(audit, "hold_recording", hold)
    monkeypatch.setattr(receivers, "hold_recording", hold)
    monkeypatch.setattr(batch, "_insert", insert)
    fam = prydderch
    items = [
        {"external_id": "HV-LOCK-1", "code": "health.appointment.was_not_brought", "occurred_at": ago(3),
         "details": {"service": "health_visiting"},
         "subject": {"local_id": "HV-LOCK-1", "given_name": "Osian", "family_name": "Rowlands",
                     "date_of_birth": "2022-01-01", "address_line": "3 Maes Hir", "postcode": "SY23 4QQ"}}
    ]  # fmt: skip
    record_event_batch(organisation=fam.orgs.health_visiting, items=items)
    assert home_of(person_of(fam.orgs.health_visiting, "HV-LOCK-1")) is not None  # placed, and audited:
    assert AuditEntry.objects.filter(purpose="households from agency addresses").exists()
    assert steps[0] == "insert" and "hold" in steps
