"""The worker's heartbeat, /healthz/worker, and telling the administrators of a given-up email (HAZ-004).

Rounds run through ``cylch worker --once``; emails fail against a port nobody listens on, with
Django's real SMTP backend; the health check is requested through the test client.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cylch.access.roles import Role
from cylch.core import heartbeat
from cylch.core.models import WorkerHeartbeat
from cylch.notify.models import Notification, OutboxMessage, OutboxStatus
from cylch.notify.services import GIVEN_UP_KIND, MAX_ATTEMPTS, deliver_due, notify_user
from tests import factories
from tests.conftest import _free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_required(settings):
    """A production hub: a worker must run. The window is ten minutes."""
    settings.CYLCH_WORKER_REQUIRED = True
    settings.CYLCH_WORKER_STALE_SECONDS = 600
    settings.CYLCH_OUTBOX_FAILED_LIMIT = 10
    return settings


def _health(client):
    response = client.get("/healthz/worker")
    return response.status_code, response.json()


def test_a_round_of_the_worker_is_its_heartbeat_and_healthz_worker_reports_it(
    prydderch, client, worker_required, django_assert_num_queries
):
    """Before any round a production hub's /healthz/worker is 503 and says the worker never ran;
    after one round of `cylch worker --once` it is 200 with the round's times and what each job
    did. Reading it takes two queries; /healthz itself is unchanged throughout."""
    status, body = _health(client)
    assert status == 503 and "never finished a round" in body["problems"][0]
    assert client.get("/healthz").json()["status"] == "ok"

    call_command("worker", "--once", stdout=StringIO())
    beat = WorkerHeartbeat.objects.get(name=heartbeat.WORKER)
    assert beat.rounds == 1 and beat.finished_at >= beat.started_at and beat.failed_jobs == []
    assert set(beat.results) >= {"reports", "challenges", "alerts", "protection", "approvals", "outbox"}
    status, body = _health(client)
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    assert body["worker"]["rounds"] == 1 and body["worker"]["seconds_since"] <= 5
    assert body["outbox"] == {"pending": 0, "oldest_due_waiting_seconds": 0, "failed_last_24_hours": 0, "failed": 0}
    with django_assert_num_queries(2):
        heartbeat.worker_health()


@pytest.mark.parametrize(("minutes", "healthy"), [(9, True), (11, False)])
def test_a_worker_that_has_not_finished_a_round_within_the_window_is_reported(
    prydderch, client, worker_required, minutes, healthy
):
    """Ten minutes is the window: a last round nine minutes ago is healthy, eleven is 503 saying
    how long ago; /healthz stays 200 for the load balancer either way."""
    call_command("worker", "--once", stdout=StringIO())
    WorkerHeartbeat.objects.update(finished_at=timezone.now() - timedelta(minutes=minutes))
    status, body = _health(client)
    assert (status == 200) is healthy
    if not healthy:
        assert body["problems"] == [f"the worker's last round finished {minutes * 60} seconds ago (more than 600)"]
    assert client.get("/healthz").status_code == 200


def test_a_demo_hub_that_never_ran_a_worker_is_healthy(prydderch, client, settings):
    """A demo or test hub needs no worker: nothing having run is not a fault there, even with
    emails waiting, and /healthz is as it was."""
    settings.CYLCH_WORKER_REQUIRED = False
    notify_user(recipient=prydderch.staff.team_manager, kind="test", subject=gettext_lazy("Hello"),
                body=gettext_lazy("Hello"), dedupe_key="waiting")  # fmt: skip
    OutboxMessage.objects.update(next_attempt_at=timezone.now() - timedelta(hours=2))
    status, body = _health(client)
    assert status == 200 and body["worker"]["last_round_finished"] is None and body["outbox"]["pending"] == 1
    assert client.get("/healthz").status_code == 200


def test_a_job_that_raised_in_the_last_round_is_reported(prydderch, client, worker_required):
    """A round in which a clock raised (its escalations are not being sent) is 503, naming it."""
    heartbeat.round_started()
    heartbeat.round_finished({"reports": "failed", "alerts": "0", "outbox": "(0, 0)"})
    status, body = _health(client)
    assert status == 503 and body["problems"] == ["jobs failed in the worker's last round: reports"]
    assert body["worker"]["failed_jobs"] == ["reports"]


def test_an_email_left_waiting_or_too_many_given_up_is_reported(prydderch, client, worker_required):
    """The worker runs but an email has been due for 11 minutes untried: 503. Ten emails given up
    in a day is the limit; the eleventh makes it 503. Given-up emails older than a day do not count."""
    call_command("worker", "--once", stdout=StringIO())
    lead = prydderch.staff.team_manager
    notify_user(recipient=lead, kind="test", subject=gettext_lazy("Hello"), body=gettext_lazy("Hello"),
                dedupe_key="stuck")  # fmt: skip
    OutboxMessage.objects.filter(dedupe_key="stuck").update(next_attempt_at=timezone.now() - timedelta(minutes=11))
    status, body = _health(client)
    assert status == 503 and body["outbox"]["pending"] == 1
    assert re.fullmatch(r"an email has been due for 66\d seconds and not tried \(more than 600\)", body["problems"][0])
    OutboxMessage.objects.filter(dedupe_key="stuck").update(status=OutboxStatus.SENT)

    for n in range(10):
        OutboxMessage.objects.create(dedupe_key=f"failed-{n}", to=lead.email, subject="s", body="b",
                                     status=OutboxStatus.FAILED, next_attempt_at=timezone.now())  # fmt: skip
    old = OutboxMessage.objects.create(dedupe_key="failed-old", to=lead.email, subject="s", body="b",
                                       status=OutboxStatus.FAILED, next_attempt_at=timezone.now())  # fmt: skip
    OutboxMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    status, body = _health(client)
    assert status == 200 and body["outbox"]["failed_last_24_hours"] == 10 and body["outbox"]["failed"] == 11
    OutboxMessage.objects.create(dedupe_key="failed-10", to=lead.email, subject="s", body="b",
                                 status=OutboxStatus.FAILED, next_attempt_at=timezone.now())  # fmt: skip
    status, body = _health(client)
    assert status == 503
    assert body["problems"] == ["11 emails queued in the last 24 hours were given up (more than 10)"]


# --- a given-up email is told to the administrators ---------------------------------------------


def _mail_server_down(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 5


def _last_attempt(dedupe_key: str) -> None:
    """Bring a queued email to its last attempt, due now (the earlier attempts are HAZ-004-C2's test)."""
    OutboxMessage.objects.filter(dedupe_key=dedupe_key).update(
        attempts=MAX_ATTEMPTS - 1, next_attempt_at=timezone.now()
    )


def test_an_email_given_up_is_told_to_the_administrators_once_in_the_app_and_by_email(prydderch, settings):
    """With the mail server down, the team manager's email is given up on its last attempt: each
    active administrator gets one notice in the app, and an email of its own, naming the address
    and the error; the next rounds tell nobody again. A second email given up the same day joins
    the same notice without another email. Practitioners are not told."""
    _mail_server_down(settings)
    orgs = prydderch.orgs
    admin = factories.practitioner(username="owain.admin", role=Role.ADMIN, organisation=orgs.childrens_services)
    factories.practitioner(username="retired.admin", role=Role.ADMIN, organisation=orgs.childrens_services)
    type(admin).objects.filter(username="retired.admin").update(is_active=False)
    lead = prydderch.staff.team_manager
    notify_user(recipient=lead, kind="test", subject=gettext_lazy("Decision overdue: report %(reference)s"),
                body=gettext_lazy("Decision overdue: report %(reference)s"), dedupe_key="first",
                context={"reference": "ABCD-EFGH-J"})  # fmt: skip
    _last_attempt("first")
    assert deliver_due() == (0, 1)
    assert OutboxMessage.objects.get(dedupe_key="first").status == OutboxStatus.FAILED

    [notice] = Notification.objects.filter(kind=GIVEN_UP_KIND)
    assert notice.recipient == admin
    assert lead.email in notice.body and "ABCD-EFGH-J" in notice.body and "Error" in notice.body
    [email] = OutboxMessage.objects.filter(to=admin.email)
    assert email.subject == notice.subject and lead.email in email.body

    OutboxMessage.objects.filter(dedupe_key="first").update(next_attempt_at=timezone.now())
    deliver_due()  # the administrator's own email is tried (and fails); the given-up one is not
    assert Notification.objects.filter(kind=GIVEN_UP_KIND).count() == 1

    notify_user(recipient=prydderch.staff.social_worker, kind="test", subject=gettext_lazy("Hello"),
                body=gettext_lazy("Hello"), dedupe_key="second")  # fmt: skip
    _last_attempt("second")
    deliver_due()
    [notice] = Notification.objects.filter(kind=GIVEN_UP_KIND)
    assert prydderch.staff.social_worker.email in notice.body and lead.email in notice.body
    assert OutboxMessage.objects.filter(to=admin.email).count() == 1
    assert not Notification.objects.filter(kind=GIVEN_UP_KIND).exclude(recipient=admin).exists()


def test_a_day_later_a_given_up_email_starts_a_new_notice_and_email(prydderch, settings):
    """The administrators are emailed again about failures a day after the last notice, so a
    notice nobody opened does not swallow every later failure."""
    _mail_server_down(settings)
    admin = factories.practitioner(
        username="owain.admin", role=Role.ADMIN, organisation=prydderch.orgs.childrens_services
    )
    lead = prydderch.staff.team_manager
    for key in ("monday", "tuesday"):
        notify_user(recipient=lead, kind="test", subject=gettext_lazy("Hello"), body=gettext_lazy("Hello"),
                    dedupe_key=key)  # fmt: skip
    _last_attempt("monday")
    deliver_due()
    Notification.objects.filter(kind=GIVEN_UP_KIND).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    _last_attempt("tuesday")
    deliver_due()
    assert Notification.objects.filter(kind=GIVEN_UP_KIND, recipient=admin).count() == 2
    assert OutboxMessage.objects.filter(to=admin.email).count() == 2
