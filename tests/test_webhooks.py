"""Outbound webhooks against a real HTTP receiver on 127.0.0.1: signatures, retries with back-off,
giving up and telling the organisation once, the access policy on what is sent, rollback, the
worker, the pages, and where deliveries may go."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.events.services import record_event
from cylch.governance import webhooks
from cylch.governance.models import Delivery, DeliveryState, Subscription, WebhookKind
from cylch.notify.models import Notification
from cylch.protection import meetings
from cylch.protection.models import Decision
from tests import factories
from tests.test_protection import _to_conference, conference_input, days_ago

pytestmark = pytest.mark.django_db

REGISTERED = "process.register.registered"
DEREGISTERED = "process.register.deregistered"


# --- a real receiver ------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An ``http.server`` in a thread: records every request and answers with the scripted
    statuses in turn (then ``default``); a status of 0 means "do not answer for 2 seconds"."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    default: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int) -> None:
        self.script.extend(statuses)


@pytest.fixture
def receiver():
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with rec.lock:
                rec.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = rec.script.pop(0) if rec.script else rec.default
            if status == 0:
                time.sleep(2)
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cylch?from=cylch"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


# --- the people and the subscriptions -------------------------------------------------------------


def manager(org, username: str, *, role=Role.ADMIN, lead=False):
    return factories.demo_practitioner(username=username, role=role, organisation=org, is_safeguarding_lead=lead)


def subscribe(user, receiver: Receiver, *kinds: str, name: str = "Receiving system") -> webhooks.Created:
    return webhooks.subscription_create(user=user, name=name, url=receiver.url, kinds=list(kinds))


def register(p, child=None, *, summary="Registered at the initial conference: neglect.", sensitivity=None,
             when=None, **kw):  # fmt: skip
    """A registration on the spine, recorded by children's services through the one recording service."""
    return record_event(organisation=p.orgs.childrens_services, code=REGISTERED, person=child or p.alys,
                        occurred_at=when or timezone.now() - timedelta(hours=1), details={"categories": ["neglect"]},
                        summary=summary, recorded_by=p.staff.social_worker, sensitivity=sensitivity, **kw).event  # fmt: skip


@pytest.fixture
def school(prydderch, receiver):
    """Ysgol Glan-y-Môr (Alys's school: it holds her pupil record) subscribed to registrations."""
    admin = manager(prydderch.orgs.school, "ysgol.admin")
    made = subscribe(admin, receiver, WebhookKind.REGISTRATION, name="School information system")
    return admin, made


# --- signatures -----------------------------------------------------------------------------------


def test_the_signature_verifies_with_the_secret_and_fails_with_another(prydderch, school, receiver):
    """The receiver can prove a message came from Cylch: the HMAC over timestamp and body checks
    out with the subscription's secret, and not with another secret, another body or an old
    timestamp."""
    _admin, made = school
    event = register(prydderch)
    assert str(webhooks.deliver_due()) == "delivered 1, retrying 0, given up 0"
    [got] = receiver.received
    header = got.headers["cylch-signature"]
    assert webhooks.verify(made.secret, got.body, header)
    assert not webhooks.verify(webhooks.new_secret(), got.body, header)
    assert not webhooks.verify(made.secret, got.body.replace(b"neglect", b"nothing") + b" ", header)
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 60
    assert not webhooks.verify(made.secret, got.body, header, now=timestamp + webhooks.TOLERANCE_SECONDS + 1)
    # The id in the header is the payload's, the path and query are kept, the type is named.
    assert got.headers["cylch-delivery"] == got.payload["id"] == str(Delivery.objects.get().public_id)
    assert got.path == "/hooks/cylch?from=cylch"
    assert got.headers["cylch-event"] == got.payload["type"] == "registration"
    assert got.payload["event"]["id"] == str(event.public_id)


# --- retries --------------------------------------------------------------------------------------


def test_a_500_then_a_200_is_retried_and_delivered_once_with_the_same_id_and_body(prydderch, school, receiver):
    """A failed try waits about a minute (with jitter), then the same bytes under the same
    delivery id go again; once delivered, nothing more is sent."""
    _admin, made = school
    receiver.answer(500, 200)
    register(prydderch)
    now = timezone.now()
    first = webhooks.deliver_due(now=now)
    assert (first.delivered, first.retrying) == (0, 1)
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1 and delivery.last_status_code == 500
    wait = delivery.next_attempt_at - now
    assert timedelta(seconds=45) <= wait <= timedelta(seconds=75)
    assert webhooks.deliver_due(now=now + timedelta(seconds=30)).delivered == 0  # not due yet
    assert len(receiver.received) == 1
    assert webhooks.deliver_due(now=delivery.next_attempt_at).delivered == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2 and delivery.body == ""
    assert [t.status_code for t in delivery.tries.all()] == [500, 200]
    one, two = receiver.received
    assert one.body == two.body and one.headers["cylch-delivery"] == two.headers["cylch-delivery"]
    assert all(webhooks.verify(made.secret, r.body, r.headers["cylch-signature"]) for r in (one, two))
    assert delivery.payload_digest == hashlib.sha256(two.body).hexdigest()
    webhooks.deliver_due(now=now + timedelta(days=2))
    assert len(receiver.received) == 2
    audited = AuditEntry.objects.filter(object_type="webhook_delivery", object_id=str(delivery.public_id))
    assert [a.purpose for a in audited] == ["webhook delivered"]


def test_after_the_limit_it_is_given_up_and_the_organisation_is_told_once(prydderch, receiver, smtp_server):
    """Ten failed tries, each wait about double the last (capped at four hours); then the delivery
    is given up and the school's system administrator and safeguarding lead are told, once, in
    the app and by email: not again for the next failure, and again only after a delivery has
    got through."""
    p = prydderch
    admin = manager(p.orgs.school, "ysgol.admin")
    lead = manager(p.orgs.school, "ysgol.lead", role=Role.SCHOOL_SAFEGUARDING_LEAD, lead=True)
    subscribe(admin, receiver, WebhookKind.REGISTRATION)
    receiver.default = 503
    register(p)
    delivery = Delivery.objects.get()
    clock = timezone.now()
    waits = []
    for _ in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due(now=clock)
        delivery.refresh_from_db()
        if delivery.state == DeliveryState.PENDING:
            waits.append((delivery.next_attempt_at - clock).total_seconds())
            clock = delivery.next_attempt_at
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == webhooks.MAX_ATTEMPTS
    assert delivery.body == "" and delivery.last_status_code == 503
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS
    assert len({r.headers["cylch-delivery"] for r in receiver.received}) == 1
    for n, wait in enumerate(waits, start=1):
        step = min(60 * 2 ** (n - 1), 4 * 3600)
        assert step * 0.75 <= wait <= step * 1.25, (n, wait)
    told = Notification.objects.filter(kind="webhook_failing")
    assert sorted(n.recipient.username for n in told) == ["ysgol.admin", "ysgol.lead"]
    # A second message that fails too: given up, and nobody is told again.
    register(p, p.twm)
    for _ in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due(now=clock)
        clock += webhooks.LONGEST_WAIT * 2
    assert Delivery.objects.filter(state=DeliveryState.FAILED).count() == 2
    assert told.count() == 2
    call_command("worker", "--once", stdout=StringIO())  # the outbox sends the notices
    assert sorted(m.rcpt_tos[0] for m in smtp_server.received if "ysgol" in m.rcpt_tos[0]) == [admin.email, lead.email]
    assert len(receiver.received) == 2 * webhooks.MAX_ATTEMPTS  # the worker sent nothing given up
    # A delivery gets through: the next failure is told again.
    receiver.default = 200
    factories.event(organisation=p.orgs.childrens_services, person=p.unborn, code=REGISTERED,
                    details={"categories": ["neglect"]}, occurred_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    webhooks.deliver_due(now=clock)
    assert Subscription.objects.get().failing_since is None


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_try(prydderch, school, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.5)
    receiver.answer(0)
    register(prydderch)
    assert webhooks.deliver_due().retrying == 1
    delivery = Delivery.objects.get()
    assert delivery.last_status_code is None and "timed out" in delivery.last_error.lower()
    assert delivery.tries.get().duration_ms < 1900


# --- what is sent, to whom ------------------------------------------------------------------------


def test_each_organisation_gets_what_the_access_policy_shows_it(prydderch, receiver):
    """Children's services recorded the registration: its system gets it whole. The school knows
    Alys: its system gets what kind of entry, when and whom to ask, not the summary or the
    categories, as the API shows it; and Alys by Cylch's id and the pupil record the school holds."""
    p = prydderch
    subscribe(manager(p.orgs.childrens_services, "cs.admin"), receiver, WebhookKind.REGISTRATION, name="CS system")
    subscribe(manager(p.orgs.school, "ysgol.admin"), receiver, WebhookKind.REGISTRATION, name="School system")
    event = register(p, summary="Registered: neglect, Alys's bedroom unheated all winter.")
    webhooks.deliver_due()
    by_org = {r.payload["organisation"]: r for r in receiver.received}
    assert set(by_org) == {"ceredigion-childrens-services", "ysgol-glan-y-mor"}
    own = by_org["ceredigion-childrens-services"].payload["event"]
    assert own["level"] == "C" and own["details"] == {"categories": ["neglect"]} and "unheated" in own["summary"]
    school = by_org["ysgol-glan-y-mor"]
    seen = school.payload["event"]
    assert seen["level"] == "S" and seen["code"] == REGISTERED and seen["id"] == str(event.public_id)
    assert seen["label"]["cy"] == "Enw'r plentyn wedi'i roi ar y Gofrestr Amddiffyn Plant"
    assert "summary" not in seen and "details" not in seen and "recorder_name" not in seen
    assert b"unheated" not in school.body and b"neglect" not in school.body and b"Gwen" not in school.body
    assert school.payload["child"] == {
        "id": str(p.alys.public_id),
        "your_records": [
            {"local_id": "PUPIL-2041-017", "nhs_number": factories.NHS["alys"], "upn": factories.ALYS_UPN}
        ],
    }
    assert b"Prydderch" not in school.body and b"2019-04-09" not in school.body


def test_an_organisation_with_no_relationship_to_the_child_gets_nothing(prydderch, receiver):
    p = prydderch
    subscribe(manager(p.orgs.housing, "tai.admin"), receiver, WebhookKind.REGISTRATION)
    subscribe(manager(p.orgs.other_la_childrens_services, "carms.admin"), receiver, WebhookKind.REGISTRATION)
    subscribe(manager(p.orgs.school, "ysgol.admin"), receiver, WebhookKind.REGISTRATION)
    register(p)
    webhooks.deliver_due()
    assert [r.payload["organisation"] for r in receiver.received] == ["ysgol-glan-y-mor"]
    assert Delivery.objects.count() == 1


def test_an_organisation_that_may_only_know_an_entry_exists_gets_no_content(prydderch, school, receiver):
    """A registration recorded as highly sensitive: the school's system is told that an entry
    exists, when, by whom and whom to ask, typed "withheld": not what kind of entry, nor anything
    it says; its delivery log does not name the kind either."""
    p = prydderch
    event = register(p, summary="Registered: sexual harm by a relative.", sensitivity="special")
    webhooks.deliver_due()
    [got] = receiver.received
    assert got.payload["type"] == got.headers["cylch-event"] == "withheld"
    block = got.payload["event"]
    assert block["withheld"] is True and block["level"] == "E" and block["id"] == str(event.public_id)
    assert block["organisation"] == "ceredigion-childrens-services" and block["contact"]["reach"]
    assert set(block) == {"id", "occurred_at", "organisation", "level", "withheld", "contact"}
    for word in (b"sexual", b"relative", b"register", b"categories", b"neglect", b"Gwen"):
        assert word not in got.body
    delivery = Delivery.objects.get()
    assert delivery.kind == "withheld" and delivery.level == "E"
    from django.utils import translation

    with translation.override("en"):  # the label is in the reader's language
        assert webhooks.type_label(delivery.kind) == "Entry withheld from you (only that it exists)"


def test_a_subscription_of_another_kind_gets_nothing(prydderch, receiver):
    p = prydderch
    subscribe(manager(p.orgs.school, "ysgol.admin"), receiver, WebhookKind.DEREGISTRATION)
    register(p)
    webhooks.deliver_due()
    assert receiver.received == [] and Delivery.objects.count() == 0
    record_event(organisation=p.orgs.childrens_services, code=DEREGISTERED, person=p.alys,
                 occurred_at=timezone.now() - timedelta(minutes=5), details={"reason": "review_conference_decision"})  # fmt: skip
    webhooks.deliver_due()
    assert [r.payload["type"] for r in receiver.received] == ["deregistration"]


def test_nothing_is_sent_inside_the_transaction_or_at_all_if_it_rolls_back(prydderch, school, receiver):
    with pytest.raises(RuntimeError), transaction.atomic():
        register(prydderch)
        assert Delivery.objects.count() == 1  # queued with the change ...
        assert receiver.received == []  # ... and not sent from inside it
        raise RuntimeError("the business transaction fails after the event")
    assert Delivery.objects.count() == 0
    webhooks.deliver_due()
    call_command("worker", "--once", stdout=StringIO())
    assert receiver.received == []


def test_a_fault_while_queueing_is_logged_and_the_registration_is_still_recorded(
    prydderch, school, receiver, monkeypatch, caplog
):
    """A bug in building a message must not stop a child protection registration being recorded:
    the fault rolls back to its own savepoint and is logged; the record stands."""

    def broken(*args, **kwargs):
        raise RuntimeError("payload builder broke")

    monkeypatch.setattr(webhooks, "_child", broken)
    with transaction.atomic():
        event = register(prydderch)
    assert event.pk and Delivery.objects.count() == 0
    assert "could not queue deliveries for event" in caplog.text
    monkeypatch.undo()
    register(prydderch, prydderch.twm)
    assert Delivery.objects.count() == 1  # the hook still works for the next one


def test_the_same_event_twice_is_one_delivery(prydderch, school, receiver):
    """A resend of the same external id stores nothing new; queueing an event again is refused by
    the delivery's (subscription, kind, reference) key."""
    when = timezone.now() - timedelta(hours=2)
    first = register(prydderch, external_id="CS-REG-1", when=when)
    again = register(prydderch, external_id="CS-REG-1", when=when)
    assert again == first
    assert webhooks.queue_for_event(first) == 0
    webhooks.deliver_due()
    assert len(receiver.received) == 1


def test_the_worker_sends(prydderch, school, receiver):
    register(prydderch)
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert "webhooks: delivered 1, retrying 0, given up 0" in out.getvalue()
    assert len(receiver.received) == 1


def test_a_conference_that_registers_a_child_tells_the_school_through_the_protection_path(prydderch, receiver):
    """The real path: the chair records an initial conference that registers Alys; the school's
    system hears of the conference being arranged, held and of the registration."""
    p = prydderch
    subscribe(manager(p.orgs.school, "ysgol.admin"), receiver, WebhookKind.REGISTRATION, WebhookKind.CONFERENCE_HELD,
              WebhookKind.CONFERENCE_ARRANGED)  # fmt: skip
    chair = factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                        organisation=p.orgs.childrens_services)  # fmt: skip
    _episode, icpc = _to_conference(p, held_strategy=days_ago(20), concluded=days_ago(15))
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(12), decision=Decision.REGISTER)
    )
    webhooks.deliver_due()
    kinds = sorted(r.payload["type"] for r in receiver.received)
    assert kinds == ["conference_arranged", "conference_held", "registration"]
    assert {r.payload["child"]["id"] for r in receiver.received} == {str(p.alys.public_id)}


def test_an_alert_sent_to_an_organisation_tells_its_system(prydderch, demo_hub, receiver):
    """Two missed appointments for Twm raise an alert sent to children's services, the GP and the
    health visitors: the health visitors' system hears of it (title and severity, no evidence);
    the school's, which knows the household but was not sent the alert, does not."""
    from tests.test_alerts import wnb

    p = prydderch
    subscribe(manager(p.orgs.health_visiting, "hv.admin"), receiver, WebhookKind.ALERT_RAISED)
    subscribe(manager(p.orgs.school, "ysgol.admin"), receiver, WebhookKind.ALERT_RAISED)
    wnb(p, p.orgs.gp, p.staff.gp, 40)
    wnb(p, p.orgs.health_visiting, p.staff.health_visitor, 12)
    webhooks.deliver_due()
    [got] = receiver.received
    assert got.payload["organisation"] == "ceredigion-health-visiting" and got.payload["type"] == "alert_raised"
    assert got.payload["alert"]["rule"] == "was-not-brought-repeated" and got.payload["alert"]["title"]["cy"]
    assert got.payload["child"]["id"] == str(p.twm.public_id)
    assert got.payload["child"]["your_records"] == [{"local_id": "HV-77-TWM", "nhs_number": factories.NHS["twm"]}]
    assert "evidence" not in got.payload["alert"]


# --- the secret and the address -------------------------------------------------------------------


def test_the_secret_is_kept_encrypted_and_opens_only_with_the_hubs_key(prydderch, school, receiver, settings):
    _admin, made = school
    sub = made.subscription
    assert made.secret.startswith("whsec_") and made.secret not in sub.secret_box
    assert made.secret[-4:] == sub.secret_hint
    assert webhooks.unseal(sub.secret_box, bound_to=sub.public_id) == made.secret
    with pytest.raises(webhooks.SecretUnavailable):
        webhooks.unseal(sub.secret_box, bound_to="another-subscription")
    old = settings.SECRET_KEY
    rotated = "a-new-key-after-rotation-" + "x" * 40
    settings.SECRET_KEY = rotated
    settings.SECRET_KEY_FALLBACKS = [old]
    assert webhooks.unseal(sub.secret_box, bound_to=sub.public_id) == made.secret
    settings.SECRET_KEY_FALLBACKS = []
    register(prydderch)
    webhooks.deliver_due()
    assert receiver.received == []
    assert "signing secret cannot be read" in Delivery.objects.get().last_error


def test_deliveries_go_only_to_https_public_addresses_on_a_production_hub(settings):
    settings.DEBUG = settings.TESTING = settings.DEMO_MODE = False
    settings.CYLCH_WEBHOOK_PRIVATE_NETWORKS = ["10.20.0.0/16"]
    ok = ["https://hooks.example.org/cylch", "https://151.101.0.1/in", "https://10.20.1.5/in"]
    refused = ["http://hooks.example.org/cylch", "https://127.0.0.1/in", "https://localhost/in", "https://[::1]/in",
               "https://169.254.169.254/latest", "https://10.9.0.1/in", "https://user:password@hooks.example.org/",
               "ftp://hooks.example.org/", "https://", "https://hooks.example.org:notaport/"]  # fmt: skip
    assert [u for u in ok if webhooks.url_problem(u)] == []
    assert [u for u in refused if not webhooks.url_problem(u)] == []
    settings.DEMO_MODE = True  # a demo hub: plain http, still nothing local
    assert webhooks.url_problem("http://hooks.example.org/cylch") is None
    assert webhooks.url_problem("http://127.0.0.1:8000/") is not None


def test_a_subscription_needs_a_name_an_address_and_a_kind_and_a_manager(prydderch):
    p = prydderch
    admin = manager(p.orgs.school, "ysgol.admin")
    with pytest.raises(ValidationError) as err:
        webhooks.subscription_create(user=admin, name=" ", url="", kinds=["registration", "everything"])
    assert set(err.value.message_dict) == {"name", "url", "kinds"}
    with pytest.raises(PermissionDenied):
        webhooks.subscription_create(
            user=p.staff.school_lead, name="x", url="https://a.example/", kinds=["registration"]
        )
    lead = manager(p.orgs.school, "ysgol.lead", role=Role.SCHOOL_SAFEGUARDING_LEAD, lead=True)
    made = webhooks.subscription_create(user=lead, name="MIS", url="https://a.example/", kinds=["registration"])
    assert made.subscription.organisation == p.orgs.school and made.subscription.created_by == lead
    entry = AuditEntry.objects.get(object_type="webhook_subscription", purpose="webhook subscription created")
    assert made.secret not in json.dumps(entry.detail) and entry.detail["url"] == "https://a.example/"


# --- the pages ------------------------------------------------------------------------------------


def test_an_administrator_adds_a_subscription_and_sees_the_secret_once(prydderch, demo_hub, receiver, client):
    p = prydderch
    admin = manager(p.orgs.school, "ysgol.admin")
    client.force_login(admin)
    page = client.post(reverse("governance:webhook_new"),
                       {"name": "School information system", "url": receiver.url, "kinds": ["registration", "alert_raised"]})  # fmt: skip
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    sub = Subscription.objects.get()
    secret = page.context["secret"]
    assert secret in page.content.decode()
    assert webhooks.unseal(sub.secret_box, bound_to=sub.public_id) == secret
    detail = client.get(reverse("governance:webhook", args=[sub.public_id])).content.decode()
    listing = client.get(reverse("governance:webhooks")).content.decode()
    assert secret not in detail and secret not in listing and sub.secret_hint in detail
    assert "School information system" in listing
    # An address a production hub refuses is named on the form.
    bad = client.post(
        reverse("governance:webhook_new"), {"name": "x", "url": "ftp://x.example/", "kinds": ["registration"]}
    )
    assert bad.status_code == 200 and "Enter a full web address" in bad.content.decode()


def test_a_test_message_from_the_page_is_delivered_and_logged(prydderch, demo_hub, school, receiver, client):
    admin, made = school
    client.force_login(admin)
    url = reverse("governance:webhook_test", args=[made.subscription.public_id])
    page = client.post(url, follow=True).content.decode()
    assert "Test delivered: the receiver answered 200." in page
    [got] = receiver.received
    assert got.payload["type"] == "ping" and webhooks.verify(made.secret, got.body, got.headers["cylch-signature"])
    assert got.headers["cylch-delivery"] in page and "Test message" in page
    receiver.answer(502)
    page = client.post(url, follow=True).content.decode()
    assert "The test was not delivered (HTTP 502 Bad Gateway)" in page


def test_switching_off_stops_what_was_waiting_and_everything_after(prydderch, demo_hub, school, receiver, client):
    admin, made = school
    register(prydderch)
    client.force_login(admin)
    client.post(reverse("governance:webhook_deactivate", args=[made.subscription.public_id]))
    assert Delivery.objects.get().state == DeliveryState.CANCELLED
    register(prydderch, prydderch.twm)
    webhooks.deliver_due()
    assert receiver.received == [] and Delivery.objects.count() == 1
    page = client.get(reverse("governance:webhook", args=[made.subscription.public_id])).content.decode()
    assert "Switched off" in page and "Send a test message" not in page


def test_only_managers_of_the_organisation_reach_its_webhooks(prydderch, demo_hub, school, client):
    _admin, made = school
    p = prydderch
    client.force_login(p.staff.school_lead)  # the school's safeguarding person, not flagged as a lead
    assert client.get(reverse("governance:webhooks")).status_code == 403
    assert client.get(reverse("governance:webhook_new")).status_code == 403
    other = manager(p.orgs.gp, "gp.admin")
    client.force_login(other)
    assert client.get(reverse("governance:webhooks")).status_code == 200
    for name in ("governance:webhook", "governance:webhook_test", "governance:webhook_deactivate"):
        method = client.get if name == "governance:webhook" else client.post
        assert method(reverse(name, args=[made.subscription.public_id])).status_code == 404
    assert Subscription.objects.get().active and Delivery.objects.count() == 0


def test_the_delivery_log_page_takes_a_fixed_number_of_queries(prydderch, demo_hub, school, receiver, client):
    """However many deliveries and tries the log shows, the page costs the same queries."""
    admin, made = school
    sub = made.subscription
    client.force_login(admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(reverse("governance:webhook", args=[sub.public_id]))
        assert page.status_code == 200
        return len(ctx)

    register(prydderch)
    receiver.answer(500)
    webhooks.deliver_due()
    queries()  # the first view also writes its audit entry and saves the session: count the ones after
    few = queries()
    for child in (prydderch.twm, prydderch.unborn):
        register(prydderch, child)
    for _ in range(3):
        webhooks.webhook_ping(subscription=sub, user=admin)
    receiver.answer(500, 500, 500)
    webhooks.deliver_due()
    webhooks.deliver_due(now=timezone.now() + timedelta(hours=1))
    assert Delivery.objects.count() == 6 and sum(d.tries.count() for d in Delivery.objects.all()) > 6
    assert queries() == few
