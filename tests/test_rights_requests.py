"""People's requests about their record and the month to answer them (governance/rights_requests.py):
the day each is due by, the team's list, the reminders before and after it, an extension, the
answer, who may see what, the subject access file and retention. Against the real database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.access.selectors import PersonNotFound
from cylch.core.calendar import add_working_days, is_working_day
from cylch.governance import retention, rights
from cylch.governance import rights_requests as rr
from cylch.governance.models import RightsRequest
from cylch.identity.models import Person
from cylch.notify.models import Notification, OutboxMessage
from tests import factories
from tests.test_retention_person_index import KEY, TWENTY_FIFTH, gwen  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


def log(p, *, received: date | None = None, kind: str = "access") -> RightsRequest:
    return rr.request_record(
        user=p.staff.team_manager, person_id=p.alys.public_id, kind=kind, requested_by_name="Ceri Prydderch",
        requester_relationship="parent", received_on=received or timezone.localdate(), details="A copy of Alys's file",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2027, 3, 15), date(2027, 4, 15)),  # a Thursday: the same date next month
        (date(2027, 1, 31), date(2027, 3, 1)),  # no 31 February: the 28th, a Sunday, so Monday
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year's last day of February, a Tuesday
        (date(2026, 11, 25), date(2026, 12, 29)),  # Christmas Day, a weekend, then Boxing Day's Monday
        (date(2026, 12, 31), date(2027, 2, 1)),  # 31 January 2027 is a Sunday
    ],
)
def test_the_month_runs_to_the_same_date_next_month_then_the_next_working_day(received, due):
    assert rr.due_date(received) == due
    assert is_working_day(due)


def test_an_extension_gives_two_more_months_from_the_day_received():
    assert rr.due_date(date(2027, 3, 15), 3) == date(2027, 6, 15)
    assert rr.month_after(date(2027, 11, 30), 3) == date(2028, 2, 29)


def test_a_team_manager_logs_a_request_with_its_day_and_an_audit_entry(prydderch):
    p = prydderch
    made = log(p, received=date(2026, 11, 25))
    assert made.due_on == date(2026, 12, 29) and made.deadline == made.due_on and made.is_open
    assert made.organisation == p.orgs.childrens_services and made.recorded_by == p.staff.team_manager
    entry = AuditEntry.objects.get(object_type="rights_request", object_id=str(made.public_id))
    assert entry.purpose == "rights request logged" and entry.detail["person"] == str(p.alys.public_id)
    assert audit_verify().ok


def test_only_a_team_manager_of_an_authority_involved_may_log_one_and_bad_input_is_named(prydderch):
    p = prydderch
    carms = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                        organisation=p.orgs.other_la_childrens_services)  # fmt: skip
    for user in (p.staff.social_worker, p.staff.gp, carms):
        with pytest.raises(PersonNotFound):
            rr.request_record(user=user, person_id=p.alys.public_id, kind="access", requested_by_name="X",
                              requester_relationship="self", received_on=timezone.localdate())  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        rr.request_record(user=p.staff.team_manager, person_id=p.alys.public_id, kind="forget", requested_by_name=" ",
                          requester_relationship="cousin", received_on=timezone.localdate() + timedelta(days=1))  # fmt: skip
    assert set(exc.value.message_dict) == {"kind", "requested_by_name", "requester_relationship", "received_on"}
    assert not RightsRequest.objects.exists()


def test_the_managers_are_told_five_working_days_before_and_once_when_it_passes(prydderch):
    """Each reminder once, however often the worker runs; an answered request is not chased."""
    p = prydderch
    made = log(p, received=date(2026, 11, 2))  # due Wednesday 2 December 2026
    assert made.due_on == date(2026, 12, 2)
    early = timezone.make_aware(timezone.datetime(2026, 11, 24, 9))  # 6 working days before
    assert rr.rights_requests_sweep(now=early) == 0
    warn = timezone.make_aware(timezone.datetime(2026, 11, 25, 9))  # 5 working days before
    assert rr.rights_requests_sweep(now=warn) == 1
    assert rr.rights_requests_sweep(now=warn + timedelta(days=1)) == 0
    notice = Notification.objects.get(recipient=p.staff.team_manager, kind="rights_request_soon")
    assert "dydd Mercher 2 Rhagfyr 2026" in notice.subject  # in Welsh: Aled reads Cylch in Welsh
    assert OutboxMessage.objects.filter(to=p.staff.team_manager.email).exists()
    late = timezone.make_aware(timezone.datetime(2026, 12, 3, 9))
    assert rr.rights_requests_sweep(now=late) == 1
    assert rr.rights_requests_sweep(now=late + timedelta(days=3)) == 0
    assert Notification.objects.filter(recipient=p.staff.team_manager, kind="rights_request_overdue").count() == 1
    other = log(p, received=date(2026, 11, 2), kind="rectification")
    rr.request_answer(user=p.staff.team_manager, public_id=other.public_id, answered_on=date(2026, 11, 20),
                      answer="The entry was corrected and the person told.")  # fmt: skip
    assert rr.rights_requests_sweep(now=late) == 0
    purposes = set(AuditEntry.objects.filter(object_type="rights_request").values_list("purpose", flat=True))
    assert {"rights request due soon: told", "rights request overdue: told", "rights request answered"} <= purposes


def test_a_team_with_no_manager_left_is_told_through_its_safeguarding_mailbox(prydderch):
    p = prydderch
    made = log(p, received=date(2026, 10, 1))
    p.orgs.childrens_services.safeguarding_email = "diogelu@ceredigion.example"
    p.orgs.childrens_services.save(update_fields=["safeguarding_email"])
    type(p.staff.team_manager).objects.filter(pk=p.staff.team_manager.pk).update(is_active=False)
    assert rr.rights_requests_sweep(now=timezone.make_aware(timezone.datetime(2026, 11, 20, 9))) == 1
    assert OutboxMessage.objects.filter(
        to="diogelu@ceredigion.example", dedupe_key__contains=str(made.public_id)
    ).exists()


def test_an_extension_is_once_within_the_first_month_with_a_reason_and_is_warned_again(prydderch):
    p = prydderch
    today = timezone.localdate()
    made = log(p, received=today - timedelta(days=3))
    with pytest.raises(ValidationError) as exc:
        rr.request_extend(user=p.staff.team_manager, public_id=made.public_id, reason="short")
    assert "reason" in exc.value.message_dict
    made.warned_at = timezone.now()
    made.save(update_fields=["warned_at"])
    done = rr.request_extend(user=p.staff.team_manager, public_id=made.public_id,
                             reason="Records from four agencies over ten years to review.")  # fmt: skip
    assert done.extended_to == rr.due_date(made.received_on, 3) and done.deadline == done.extended_to
    assert done.warned_at is None  # the new day gets its own reminder
    with pytest.raises(ValidationError, match="already been extended"):
        rr.request_extend(user=p.staff.team_manager, public_id=made.public_id, reason="Once more, please, for luck.")
    old = log(p, received=today - timedelta(days=70))
    with pytest.raises(ValidationError, match="month has passed"):
        rr.request_extend(user=p.staff.team_manager, public_id=old.public_id, reason="Records from four agencies.")
    with pytest.raises(RightsRequest.DoesNotExist):
        rr.request_extend(user=p.staff.social_worker, public_id=made.public_id, reason="Not my team's to extend.")


def test_the_answer_is_dated_checked_and_says_whether_it_was_in_time(prydderch):
    p = prydderch
    today = timezone.localdate()
    made = log(p, received=today - timedelta(days=40))
    with pytest.raises(ValidationError) as exc:
        rr.request_answer(user=p.staff.team_manager, public_id=made.public_id,
                          answered_on=today - timedelta(days=41), answer="Sent.")  # fmt: skip
    assert set(exc.value.message_dict) == {"answered_on", "answer"}
    rr.request_answer(user=p.staff.team_manager, public_id=made.public_id, answered_on=today,
                      answer="The file was sent by secure email, third parties redacted.")  # fmt: skip
    made.refresh_from_db()
    assert made.answered_on == today and not made.is_open and made.answered_by == p.staff.team_manager
    entry = AuditEntry.objects.get(object_type="rights_request", purpose="rights request answered")
    assert entry.detail["in_time"] is (today <= made.deadline)
    with pytest.raises(ValidationError, match="has been answered"):
        rr.request_answer(user=p.staff.team_manager, public_id=made.public_id, answered_on=today,
                          answer="Answered twice would be a mistake.")  # fmt: skip


def test_the_pages_log_list_and_answer_a_request_and_no_one_else_sees_it(prydderch, client):
    p = prydderch
    tm = p.staff.team_manager
    client.force_login(tm)
    rights_page = client.get(reverse("governance:rights", args=[p.alys.public_id]))
    assert reverse("governance:rights-request-new", args=[p.alys.public_id]) in rights_page.content.decode()
    new_url = reverse("governance:rights-request-new", args=[p.alys.public_id])
    bad = client.post(new_url, {"kind": "access", "requested_by_name": "", "requester_relationship": "self",
                                "received_on": "31/02/2026"})  # fmt: skip
    assert bad.status_code == 200 and not RightsRequest.objects.exists()
    body = bad.content.decode()
    assert 'href="#id_requested_by_name"' in body and 'href="#id_received_on"' in body
    received = add_working_days(timezone.localdate(), -25)
    done = client.post(new_url, {"kind": "access", "requested_by_name": "Ceri Prydderch",
                                 "requester_relationship": "parent", "received_on": received.strftime("%d/%m/%Y")})  # fmt: skip
    made = RightsRequest.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("governance:rights-request", args=[made.public_id])
    listing = client.get(reverse("governance:rights-requests")).content.decode()
    assert p.alys.display_name in listing and reverse("governance:rights-request", args=[made.public_id]) in listing
    detail_url = reverse("governance:rights-request", args=[made.public_id])
    assert client.get(detail_url).status_code == 200
    answered = client.post(detail_url, {"action": "answer", "answered_on": timezone.localdate().strftime("%d/%m/%Y"),
                                        "answer": "Sent by secure email, third parties redacted."})  # fmt: skip
    assert answered.status_code == 302
    made.refresh_from_db()
    assert made.answered_on == timezone.localdate()
    carms = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                        organisation=p.orgs.other_la_childrens_services)  # fmt: skip
    for user, listing_status in ((carms, 200), (p.staff.social_worker, 403), (p.staff.gp, 403)):
        client.force_login(user)
        assert client.get(detail_url).status_code == 404
        assert client.post(detail_url, {"action": "extend", "reason": "Someone else's request."}).status_code == 404
        response = client.get(reverse("governance:rights-requests"))
        assert response.status_code == listing_status
        assert p.alys.display_name not in response.content.decode()
        assert client.get(new_url).status_code == 404
    made.refresh_from_db()
    assert made.extended_to is None


def test_the_subject_access_file_lists_the_requests_the_person_made(prydderch):
    p = prydderch
    made = log(p, received=date(2026, 11, 2))
    document = rights.subject_access_export(p.alys, user=p.staff.team_manager, fmt="csv")
    assert str(made.public_id).encode() in document.body


def test_an_open_request_keeps_the_person_and_an_answered_one_goes_with_them(gwen, prydderch):  # noqa: F811
    person = gwen.person
    made = RightsRequest.objects.create(
        person=person, organisation=prydderch.orgs.childrens_services, kind="erasure", requested_by_name="Gwenllian",
        requester_relationship="self", received_on=date(2035, 3, 1), due_on=date(2035, 4, 2),
        recorded_by=prydderch.staff.team_manager,
    )  # fmt: skip
    retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert Person.objects.filter(pk=person.pk).exists()
    made.answered_on, made.answer = date(2035, 3, 14), "Erased at the due date under the schedule."
    made.save(update_fields=["answered_on", "answer"])
    retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert not Person.objects.filter(pk=person.pk).exists() and not RightsRequest.objects.filter(pk=made.pk).exists()


def test_the_sweep_reads_only_requests_with_something_to_say(prydderch, django_assert_max_num_queries):
    """A minute's round does not lock each open request: those far from their day, or already
    told, cost nothing."""
    p = prydderch
    today = timezone.localdate()
    for _ in range(10):
        log(p, received=today)  # a month away
    told = log(p, received=today - timedelta(days=40))
    assert rr.rights_requests_sweep() == 1
    told.refresh_from_db()
    assert told.overdue_told_at is not None
    with django_assert_max_num_queries(1):
        assert rr.rights_requests_sweep() == 0
