"""Controls from the hazard log (docs/safety/hazard-log.md) that no other test proved.

Each test names, in its docstring, the hazard control it proves (``HAZ-nnn-Cn``). They run the
real thing: the real SMTP backend against a port nobody listens on, the Welsh catalogue as
shipped, the rule pack loader, the FHIR and CSV intake, the working-day calendar.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import polib
import pytest
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

import cylch
from cylch.access.models import AuditEntry
from cylch.core import taxonomy
from cylch.core.calendar import add_working_days, is_out_of_hours, is_working_day
from cylch.events.csv_intake import import_csv
from cylch.events.models import Event
from cylch.events.services import record_event
from cylch.identity.models import PersonLink
from cylch.identity.services import link_undo
from cylch.notify.models import Notification, OutboxMessage, OutboxStatus
from cylch.notify.services import MAX_ATTEMPTS, deliver_due, notify_user
from cylch.reports.services import SubjectIn, report_submit
from cylch.rules.models import Alert
from cylch.rules.pack import Deadline, PackError, forget_packs, national_pack
from cylch.rules.routing import acknowledge_by
from tests import factories

LONDON = ZoneInfo("Europe/London")
WNB = "health.appointment.was_not_brought"
NEGLECT = "social_care.neglect.concern"
CATALOGUE = Path(cylch.__file__).resolve().parent / "locale" / "cy" / "LC_MESSAGES"


# --- HAZ-002: a false link ----------------------------------------------------------------


def test_undoing_a_wrong_link_moves_the_record_and_its_events_to_a_person_of_their_own(prydderch):
    """HAZ-002-C6. The school's record was linked to Alys by mistake: undoing the link needs a
    reason, takes the record and the school's entry off Alys's record onto a person of their own,
    deletes nothing, and leaves the GP's entries with Alys; the undo is audited with its reason."""
    p = prydderch
    link = PersonLink.objects.get(agency_record__local_id="PUPIL-2041-017", active=True)
    assert link.person == p.alys
    school_entry = record_event(
        organisation=p.orgs.school, code="education.attendance.concern", occurred_at=factories.at("2026-10-02"),
        person=p.alys, agency_record=link.agency_record, details=factories.minimal_details("education.attendance.concern"),
        summary="Late most mornings this half term.", recorded_by=p.staff.school_lead,
    ).event  # fmt: skip
    gp_entry = factories.event(organisation=p.orgs.gp, person=p.alys, code=WNB, recorded_by=p.staff.gp)
    events_before = Event.objects.count()

    with pytest.raises(Exception) as refused:
        link_undo(link=link, actor=p.staff.social_worker, reason="   ")
    assert "reason" in str(refused.value)
    assert PersonLink.objects.get(pk=link.pk).active

    other = link_undo(link=link, actor=p.staff.social_worker, reason="Alice at Ysgol Glan-y-Môr is another child")
    school_entry.refresh_from_db()
    gp_entry.refresh_from_db()
    assert other != p.alys
    assert school_entry.person == other and gp_entry.person == p.alys
    assert not Event.objects.filter(person=p.alys, pk=school_entry.pk).exists()
    assert Event.objects.count() == events_before  # nothing deleted
    old = PersonLink.objects.get(pk=link.pk)
    assert not old.active and old.undone_by == p.staff.social_worker and old.undo_reason
    assert PersonLink.objects.get(agency_record=link.agency_record, active=True).person == other
    audit = AuditEntry.objects.get(object_type="person_link", object_id=str(link.pk))
    assert audit.purpose == "link undone" and "another child" in audit.detail["reason"]


# --- HAZ-003: a rule that silently stops firing ------------------------------------------------


@pytest.fixture
def fresh_packs():
    """Packs are cached per process: start and end each test with none loaded."""
    forget_packs()
    yield
    forget_packs()


def test_a_pack_naming_a_code_the_taxonomy_lacks_stops_recording_rather_than_skipping_the_rule(
    prydderch, settings, tmp_path, fresh_packs
):
    """HAZ-003-C2. A regional pack whose rule reads a code the taxonomy does not have (renamed or
    never there) is refused when it is loaded, and the refusal reaches whoever records: the
    event is not stored unread by the rules, and the message names the file, line, rule and code."""
    pack = tmp_path / "mid-west.yaml"
    pack.write_text(
        "pack: mid-west-wales\nversion: '1'\ntitle: {en: Mid and West, cy: Canolbarth a Gorllewin}\n"
        "extends: wales\nrules:\n"
        "  - id: renamed-code\n"
        "    title: {en: A, cy: B}\n    explanation: {en: A, cy: B}\n    finding: {en: A, cy: B}\n"
        "    scope: child\n    window: {months: 6}\n"
        "    when: [{count: {events: {codes: [health.appointment.not_brought]}, at_least: 2}}]\n"
        "    severity: high\n    route_to: [lead_coordinator]\n",
        encoding="utf-8",
    )
    settings.CYLCH_RULE_PACKS = {"mid-west-wales": str(pack)}
    forget_packs()
    before = Event.objects.count()
    with pytest.raises(PackError) as refused:
        factories.event(organisation=prydderch.orgs.gp, person=prydderch.twm, code=WNB)
    message = str(refused.value)
    assert "mid-west.yaml:12" in message and "renamed-code" in message and "health.appointment.not_brought" in message
    assert Event.objects.count() == before


def test_missed_appointments_arriving_by_fhir_and_by_csv_raise_the_alert(prydderch, api_client, fresh_packs):
    """HAZ-003-C4. The rules read what every intake route stores: a no-show the GP's system sends
    as FHIR and one the health visitors import as CSV add up to the missed-appointments alert,
    with both as evidence."""
    p = prydderch
    start = (timezone.now() - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    appointment = {
        "resourceType": "Appointment", "id": "WNB-1", "status": "noshow", "start": start,
        "participant": [{"actor": {"reference": "#p"}, "status": "accepted"}],
        "contained": [{"resourceType": "Patient", "id": "p", "birthDate": "2023-05-02",
                       "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": p.twm.nhs_number}]}],
    }  # fmt: skip
    response = api_client(p.orgs.gp).post(
        "/api/v1/fhir/Appointment", data=json.dumps(appointment), content_type="application/fhir+json"
    )
    assert response.status_code == 201, response.content
    assert not Alert.objects.filter(rule_id="was-not-brought-repeated").exists()  # one is not yet a pattern

    when = timezone.localtime(timezone.now() - timedelta(days=10)).strftime("%d/%m/%Y %H:%M")
    csv = (
        "external_id,code,occurred_at,local_id,given_name,family_name,date_of_birth,nhs_number,details.service\n"
        f"HV-WNB-1,{WNB},{when},HV-77-TWM,Twm,Prydderch,02/05/2023,{p.twm.nhs_number},health_visiting\n"
    )
    run = import_csv(organisation=p.orgs.health_visiting, data=csv.encode(), filename="hv.csv")
    assert run.status == "stored", run.errors
    [alert] = Alert.objects.filter(rule_id="was-not-brought-repeated")
    sources = set(Event.objects.filter(alert_evidence__alert=alert).values_list("source", flat=True))
    assert sources == {"fhir", "csv"}
    assert list(alert.children.all()) == [p.twm]


# --- HAZ-004: a notification that never arrives ----------------------------------------------------


def test_a_notice_and_its_email_commit_or_roll_back_with_the_change_that_caused_them(prydderch):
    """HAZ-004-C1. The in-app notice and its queued email are written in the caller's
    transaction: a change that fails leaves neither; one that commits leaves both."""
    lead = prydderch.staff.team_manager

    def tell(key):
        notify_user(recipient=lead, kind="test", subject=gettext_lazy("Decision overdue: report %(reference)s"),
                    body=gettext_lazy("Decision overdue: report %(reference)s"), dedupe_key=key,
                    context={"reference": "ABCD-EFGH-J"})  # fmt: skip

    with pytest.raises(RuntimeError), transaction.atomic():
        tell("rolled-back")
        raise RuntimeError("the change failed")
    assert not Notification.objects.filter(recipient=lead, kind="test").exists()
    assert not OutboxMessage.objects.filter(dedupe_key="rolled-back").exists()
    with transaction.atomic():
        tell("committed")
    assert Notification.objects.filter(recipient=lead, kind="test").count() == 1
    assert OutboxMessage.objects.get(dedupe_key="committed").to == lead.email


def test_an_email_that_never_gets_through_is_retried_with_back_off_then_marked_failed(prydderch, settings):
    """HAZ-004-C2. With the mail server unreachable, each attempt is recorded with its error and
    the next one waits longer; after the last attempt the message is marked failed (not dropped,
    not retried for ever), and the in-app notice it copied still stands."""
    from tests.conftest import _free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 5
    lead = prydderch.staff.team_manager
    notify_user(recipient=lead, kind="test", subject=gettext_lazy("Decision overdue: report %(reference)s"),
                body=gettext_lazy("Decision overdue: report %(reference)s"), dedupe_key="never-delivered",
                context={"reference": "ABCD-EFGH-J"})  # fmt: skip
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        OutboxMessage.objects.filter(dedupe_key="never-delivered").update(next_attempt_at=timezone.now())
        before = timezone.now()
        assert deliver_due() == (0, 1)
        message = OutboxMessage.objects.get(dedupe_key="never-delivered")
        assert message.attempts == attempt and message.last_error
        if attempt < MAX_ATTEMPTS:
            assert message.status == OutboxStatus.PENDING
            waits.append(message.next_attempt_at - before)
    assert waits == sorted(waits) and waits[0] < waits[-1]
    assert message.status == OutboxStatus.FAILED and "Error" in message.last_error
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert deliver_due() == (0, 0)  # given up: not tried again
    assert Notification.objects.filter(recipient=lead, kind="test").count() == 1


# --- HAZ-005: a timescale computed wrongly across a bank holiday ---------------------------------


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm), computed here independently of the
    holidays package the calendar uses."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 2 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    return date(year, month, (h + l_ - 7 * m + 33 * month + 19) % 32)


def _regular_bank_holidays(year: int) -> set[date]:
    """The eight bank holidays England and Wales have every year, with substitute days."""

    def monday_on_or_after(day: date) -> date:
        return day + timedelta(days=(7 - day.weekday()) % 7)

    taken: set[date] = set()
    for day in (date(year, 1, 1), date(year, 12, 25), date(year, 12, 26)):
        while day.weekday() >= 5 or day in taken:
            day += timedelta(days=1)
        taken.add(day)
    easter = _easter(year)
    last_may = monday_on_or_after(date(year, 5, 25))
    last_august = monday_on_or_after(date(year, 8, 25))
    return taken | {easter - timedelta(days=2), easter + timedelta(days=1), monday_on_or_after(date(year, 5, 1)),
                    last_may, last_august}  # fmt: skip


def test_the_calendar_knows_the_bank_holidays_of_the_years_ahead():
    """HAZ-005-C5. The hub will reckon deadlines for years after this code was written: in each
    of the next five years every regular bank holiday in Wales (substitute days included) stops
    the clock, and a deadline over Easter and over Christmas lands where the rules put it."""
    this_year = timezone.localdate().year
    for year in range(this_year, this_year + 5):
        expected = _regular_bank_holidays(year)
        assert len(expected) == 8, year
        assert not [day for day in sorted(expected) if is_working_day(day)], year
        good_friday = _easter(year) - timedelta(days=2)
        # 1 working day after the Thursday before Good Friday is the Tuesday after Easter Monday.
        assert add_working_days(good_friday - timedelta(days=1), 1) == good_friday + timedelta(days=4), year
        # 1 working day after 24 December is the first weekday that is neither Christmas nor Boxing
        # Day nor their substitutes.
        day = date(year, 12, 25)
        while day.weekday() >= 5 or day in expected:
            day += timedelta(days=1)
        assert add_working_days(date(year, 12, 24), 1) == day, year


# --- HAZ-007: a Welsh translation that changes the meaning of a warning --------------------------

# A placeholder Django or Python fills in: %(name)s, %s, {name}.
PLACEHOLDER = re.compile(r"%\([^)]+\)[sdfr]|%[sdfr]|\{[a-z_][a-z0-9_]*\}")
# "No." before a number or a placeholder is "number" ("No. 3 of the 5"), not a negative.
NEGATIVE_EN = re.compile(
    r"\b(not|never|no(?!\.\s*(?:%\(|\d))|nobody|nothing|none|cannot|without|neither|nor)\b|n't\b", re.IGNORECASE
)
# Welsh negatives: particles (ni, nid, na, nad, nac, nag), dim/ddim, heb and its personal forms,
# byth, neb, (p)eidio; and words negated by the prefix an-/ang- that stand for "not ...".
NEGATIVE_CY = re.compile(
    r"\b(ni|nid|na|nad|nac|nag|nis|dim|ddim|heb|hebddo|hebddi|hebddynt|hebddyn|byth|neb|peidio|beidio|"
    r"peidiwch|methu|anghywir|anhysbys)\b",
    re.IGNORECASE,
)
# English texts with a number the Welsh rightly writes as a word, and why.
NUMBER_AS_WORD = {
    "Under 1 year old": "'O dan flwydd oed': blwydd is 'one year (of age)', the number is in the word",
}


def _catalogue() -> polib.POFile:
    return polib.pofile(str(CATALOGUE / "django.po"))


def _pairs() -> list[tuple[str, str, str]]:
    """(where, English, Welsh) for every text a practitioner may read as a warning: the
    catalogue, the national rule pack's words and the taxonomy's labels."""
    pairs = []
    for entry in _catalogue().translated_entries():
        welsh = entry.msgstr or entry.msgstr_plural.get(1) or entry.msgstr_plural.get(0, "")
        pairs.append((f"django.po: {entry.msgid!r}", entry.msgid, welsh))
    for rule in national_pack().rules:
        for key in ("title", "explanation", "finding"):
            text = getattr(rule, key)
            pairs.append((f"wales.yaml {rule.id}.{key}", text["en"], text["cy"]))
    for code in taxonomy.codes().values():
        pairs.append((f"taxonomy {code.code}", code.label_en, code.label_cy))
    return pairs


def test_every_message_in_the_welsh_catalogue_is_translated_and_none_is_fuzzy():
    """HAZ-007-C1. A message without Welsh falls back to English on a Welsh page; a fuzzy one
    is a guess nobody checked (and gettext would not use it). Neither is allowed, and every plural
    message has all four Welsh forms."""
    po = _catalogue()
    assert po.metadata["Language"] == "cy"
    assert po.metadata["Plural-Forms"].startswith("nplurals=4;")
    assert len(po) > 1000  # the catalogue as shipped, not an empty file that passes
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    for entry in po:
        if entry.msgid_plural:
            assert sorted(entry.msgstr_plural) == [0, 1, 2, 3], entry.msgid
            assert all(entry.msgstr_plural.values()), entry.msgid


def test_the_compiled_welsh_catalogue_is_the_one_reviewed():
    """HAZ-007-C1. The hub reads django.mo, reviewers read django.po: the two hold the same
    messages with the same Welsh (a stale .mo would show wording nobody reviewed)."""
    po, mo = _catalogue(), polib.mofile(str(CATALOGUE / "django.mo"))

    def table(entries):
        return {(e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items()))) for e in entries if e.msgid}

    source, compiled = table(po.translated_entries()), table(mo)
    assert set(source) == set(compiled)
    assert [key for key in source if source[key] != compiled[key]] == []


def test_placeholders_survive_translation():
    """HAZ-007-C2. Every %(name)s in the English is in the Welsh (a dropped one loses the child's
    reference or the date due); the Welsh has none the English does not fill (that would fail when
    the message is sent). In a plural message only the form for one may leave out the count."""
    problems = []
    for entry in _catalogue().translated_entries():
        english = sorted(PLACEHOLDER.findall(entry.msgid))
        if not entry.msgid_plural:
            if sorted(PLACEHOLDER.findall(entry.msgstr)) != english:
                problems.append((entry.msgid, entry.msgstr))
            continue
        plural = sorted(PLACEHOLDER.findall(entry.msgid_plural))
        known = set(english) | set(plural)
        for form, welsh in entry.msgstr_plural.items():
            found = PLACEHOLDER.findall(welsh)
            if set(found) - known or (form != 0 and sorted(found) != plural):
                problems.append((entry.msgid_plural, form, welsh))
    assert problems == []


def test_numbers_survive_translation():
    """HAZ-007-C3. A number in a warning (999, 7 working days, 10 characters, CPR19) is the same
    number in the Welsh, in the catalogue, the rule pack and the taxonomy."""
    problems = []
    for where, english, welsh in _pairs():
        numbers = set(re.findall(r"\d+(?:\.\d+)?", PLACEHOLDER.sub("", english)))
        missing = numbers - set(re.findall(r"\d+(?:\.\d+)?", welsh))
        if missing and english not in NUMBER_AS_WORD:
            problems.append((where, welsh, sorted(missing)))
    assert problems == []
    assert len(_pairs()) > 1500


def test_a_negative_stays_negative_in_welsh():
    """HAZ-007-C3. "Do not register", "not brought", "no further action": where the English says
    not, no or never, the Welsh says it too, so a warning never turns into its opposite."""
    problems = [
        (where, english, welsh)
        for where, english, welsh in _pairs()
        if NEGATIVE_EN.search(english) and not NEGATIVE_CY.search(welsh)
    ]
    assert problems == []
    negatives = [english for _where, english, _welsh in _pairs() if NEGATIVE_EN.search(english)]
    assert len(negatives) > 150  # the check reads the real texts


# --- HAZ-008: an outage at the front door -------------------------------------------------


class _Resources(HTMLParser):
    """Everything a page makes the browser fetch: scripts, styles, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_the_public_report_pages_need_nothing_from_another_site(db, client):
    """HAZ-008-C2. The duty-to-report pages load only from the hub itself (GOV.UK Frontend is
    served from its static files, no CDN, no web fonts): a third party being down or blocked
    cannot take the front door with it."""
    for path in ("/report/", "/report/new/"):
        response = client.get(path)
        assert response.status_code == 200, path
        page = _Resources()
        page.feed(response.content.decode())
        assert page.urls, path
        outside = [url for url in page.urls if not url.startswith("/") or url.startswith("//")]
        assert outside == [], (path, outside)


# --- HAZ-010: a session left signed in on a shared computer ---------------------------------------


def test_a_session_cookie_copied_before_signing_out_no_longer_opens_anything(prydderch, client, demo_hub, settings):
    """HAZ-010-C3. Signing out ends the session on the server, not only in the browser: the
    old cookie, replayed, is sent to sign in."""
    name = settings.SESSION_COOKIE_NAME
    client.force_login(prydderch.staff.social_worker)
    cookie = client.cookies[name].value
    assert client.get("/search/").status_code == 200
    client.post("/sign-out/")
    client.cookies[name] = cookie
    response = client.get("/search/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


# --- HAZ-011: information reaching the wrong person -------------------------------------------------


def test_alert_emails_name_no_child(prydderch, fresh_packs):
    """HAZ-011-C3. Email leaves the hub's protection: the emails two missed appointments cause
    (the alert to each organisation, the lead-coordinator proposal) say there is something to see
    and link to it, with no name, date of birth or NHS number of the child or the parents."""
    p = prydderch
    factories.event(organisation=p.orgs.gp, person=p.twm, code=WNB, occurred_at=timezone.now() - timedelta(days=30))
    factories.event(
        organisation=p.orgs.health_visiting, person=p.twm, code=WNB, occurred_at=timezone.now() - timedelta(days=3)
    )
    assert Alert.objects.filter(rule_id="was-not-brought-repeated").exists()
    emails = list(OutboxMessage.objects.all())
    assert len([e for e in emails if e.dedupe_key.startswith("alert:")]) >= 2
    identifying = ["Twm", "Prydderch", p.twm.nhs_number, "02/05/2023", "2023-05-02", "Ceri", "Dafydd"]
    for email in emails:
        text = f"{email.subject}\n{email.body}"
        assert not [word for word in identifying if word in text], text


# --- HAZ-012: a clock or time-zone error at the change to or from summer time -----------------------


def test_a_report_received_before_the_clocks_change_is_due_at_five_oclock_on_the_wall(prydderch):
    """HAZ-012-C2. The decision is due at 17:00 UK time on the next working day whatever the
    clocks did over the weekend: 16:00 UTC after they go forward, 17:00 UTC after they go back."""
    p = prydderch

    def due(received):
        report = report_submit(channel="practitioner", children=[SubjectIn(person=p.alys)], concern_codes=[NEGLECT],
                               what_happened="Alys came to school hungry again.", maker=p.staff.health_visitor,
                               received_at=received)  # fmt: skip
        return report.decision_due_at.astimezone(UTC)

    assert due(datetime(2026, 3, 27, 10, 0, tzinfo=LONDON)) == datetime(2026, 3, 30, 16, 0, tzinfo=UTC)
    assert due(datetime(2026, 10, 23, 10, 0, tzinfo=LONDON)) == datetime(2026, 10, 26, 17, 0, tzinfo=UTC)


def test_out_of_hours_follows_the_clock_on_the_wall_after_the_change():
    """HAZ-012-C2. 08:30 UTC is 09:30 on the Monday after the clocks go forward (office hours)
    and 08:30 on the Monday after they go back (before office hours: the emergency duty team too)."""
    assert is_out_of_hours(datetime(2026, 3, 30, 8, 30, tzinfo=UTC)) is False
    assert is_out_of_hours(datetime(2026, 10, 26, 8, 30, tzinfo=UTC)) is True
    assert is_out_of_hours(datetime(2026, 3, 30, 16, 30, tzinfo=UTC)) is True  # 17:30 BST


def test_alert_deadlines_keep_their_wall_clock_time_across_the_change():
    """HAZ-012-C2. "1 working day" from 14:00 on the Friday before the clocks go forward is 14:00
    on Monday (71 hours later, not 72); Operation Encompass's "before 08:30 on the next working
    day" after the clocks go back is 08:30 GMT."""
    raised = datetime(2026, 3, 27, 14, 0, tzinfo=LONDON)
    due = acknowledge_by(Deadline(working_days=1), raised)
    assert due == datetime(2026, 3, 30, 14, 0, tzinfo=LONDON)
    assert due.astimezone(UTC) - raised.astimezone(UTC) == timedelta(hours=71)  # real time elapsed
    evening = datetime(2026, 10, 23, 20, 0, tzinfo=LONDON)
    assert acknowledge_by(Deadline(next_working_day_at="08:30"), evening) == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)


def test_csv_times_are_uk_local_time_in_summer_and_in_winter(prydderch):
    """HAZ-012-C3. A CSV time without an offset is UK time: 10:00 in July is 09:00 UTC, 10:00 in
    January is 10:00 UTC, so an entry never moves to the day before or after."""
    csv = (
        "external_id,code,occurred_at,local_id,given_name,family_name,date_of_birth,nhs_number,details.service\n"
        f"HV-T1,{WNB},15/07/2026 10:00,HV-77-TWM,Twm,Prydderch,02/05/2023,{prydderch.twm.nhs_number},health_visiting\n"
        f"HV-T2,{WNB},15/01/2026 10:00,HV-77-TWM,Twm,Prydderch,02/05/2023,{prydderch.twm.nhs_number},health_visiting\n"
        f"HV-T3,{WNB},2026-07-15T23:30,HV-77-TWM,Twm,Prydderch,02/05/2023,{prydderch.twm.nhs_number},health_visiting\n"
    )
    run = import_csv(organisation=prydderch.orgs.health_visiting, data=csv.encode(), filename="times.csv")
    assert run.status == "stored", run.errors
    stored = {
        e.external_id: e.occurred_at.astimezone(UTC) for e in Event.objects.filter(external_id__startswith="HV-T")
    }
    assert stored == {
        "HV-T1": datetime(2026, 7, 15, 9, 0, tzinfo=UTC),
        "HV-T2": datetime(2026, 1, 15, 10, 0, tzinfo=UTC),
        "HV-T3": datetime(2026, 7, 15, 22, 30, tzinfo=UTC),
    }
    assert timezone.localtime(Event.objects.get(external_id="HV-T3").occurred_at).date() == date(2026, 7, 15)
