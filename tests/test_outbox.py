"""The email outbox's claim, send and record (``notify.services.deliver_due``), against a real
SMTP server: what a worker that dies or a mail server that stalls leaves behind. The same
guarantees under SIGKILL, with ``cylch worker`` in a subprocess, are in ``tests/test_faults.py``."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.db import connections
from django.utils import timezone

from cylch.notify.models import OutboxMessage, OutboxStatus
from cylch.notify.services import _claim_next, deliver_due, notify_address
from tests.conftest import SmtpServer, _free_port

pytestmark = pytest.mark.django_db


def queue(n: int) -> list[OutboxMessage]:
    return [
        notify_address(to=f"team{i}@example.org", subject="Report received", body="Thank you.", dedupe_key=f"t:{i}")
        for i in range(n)
    ]


def message_ids(server: SmtpServer) -> list[str]:
    return [str(r.message["Message-ID"]) for r in server.received]


class _SlowGoodbye(SMTP):
    """Accepts mail as usual, then takes ``handler.goodbye_seconds`` to answer QUIT."""

    async def smtp_QUIT(self, arg):
        self.event_handler.in_goodbye.set()
        await asyncio.sleep(self.event_handler.goodbye_seconds)
        await super().smtp_QUIT(arg)


class _SlowGoodbyeController(Controller):
    def factory(self):
        return _SlowGoodbye(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def slow_goodbye_server(settings):
    """``start(goodbye_seconds, timeout)``: a mail server that accepts each message and is slow to
    say goodbye, and Django's SMTP backend pointed at it with EMAIL_TIMEOUT ``timeout``."""
    controllers = []

    def start(goodbye_seconds: float, timeout: float) -> SmtpServer:
        server = SmtpServer("127.0.0.1", _free_port())
        server.in_goodbye, server.goodbye_seconds = threading.Event(), goodbye_seconds
        controllers.append(_SlowGoodbyeController(server, hostname=server.host, port=server.port))
        controllers[-1].start()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = timeout
        return server

    yield start
    for controller in controllers:
        controller.stop()


@pytest.mark.django_db(transaction=True)
def test_a_message_is_recorded_as_sent_before_the_goodbye(slow_goodbye_server):
    """Once the server has accepted a message, it is recorded as sent before the worker says
    goodbye (QUIT), so a worker killed while the server is slow to answer does not send it again.
    (It used to be recorded after the goodbye: a longer window for a duplicate.)"""
    server = slow_goodbye_server(goodbye_seconds=2, timeout=10)
    [msg] = queue(1)

    def worker():
        try:
            deliver_due()
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert server.in_goodbye.wait(20), "the worker never said goodbye"
        during_goodbye = OutboxMessage.objects.get(pk=msg.pk)  # this thread's own connection
    finally:
        thread.join(30)
    assert during_goodbye.status == OutboxStatus.SENT and during_goodbye.sent_at is not None
    assert message_ids(server) == [f"<{msg.public_id}@cylch>"]


def test_a_message_the_server_accepted_stays_sent_when_the_goodbye_times_out(slow_goodbye_server):
    """The server accepted the message (250 to DATA) and then did not answer QUIT in time: the
    message is recorded as sent, once, and not tried again."""
    server = slow_goodbye_server(goodbye_seconds=3, timeout=1)
    [msg] = queue(1)
    assert deliver_due() == (1, 0)
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.SENT and msg.attempts == 1 and msg.last_error == ""
    OutboxMessage.objects.filter(pk=msg.pk).update(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert deliver_due() == (0, 0)
    assert message_ids(server) == [f"<{msg.public_id}@cylch>"]


def test_a_worker_that_dies_holds_back_only_the_message_it_was_sending(smtp_server):
    """A worker claims one message and dies before sending it: the next worker sends every other
    message at once; the claimed one waits out its lease, then goes with the same Message-ID."""
    messages = queue(3)
    held = _claim_next()  # the worker that dies: claimed, never sent, never recorded
    assert held is not None and held.attempts == 1
    assert deliver_due() == (2, 0)
    held.refresh_from_db()
    assert held.status == OutboxStatus.PENDING and held.next_attempt_at > timezone.now() + timedelta(minutes=4)
    assert sorted(message_ids(smtp_server)) == sorted(f"<{m.public_id}@cylch>" for m in messages if m.pk != held.pk)
    # Five minutes later (the lease is a time, so move the message's clock rather than wait).
    OutboxMessage.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now())
    assert deliver_due() == (1, 0)
    held.refresh_from_db()
    assert held.status == OutboxStatus.SENT and held.attempts == 2
    assert message_ids(smtp_server).count(f"<{held.public_id}@cylch>") == 1


def test_the_lease_is_a_setting(smtp_server, settings):
    """CYLCH_OUTBOX_LEASE_SECONDS sets how long a claim holds (the fault tests use a short one)."""
    queue(1)
    settings.CYLCH_OUTBOX_LEASE_SECONDS = 7
    before = timezone.now()
    held = _claim_next()
    assert before + timedelta(seconds=7) <= held.next_attempt_at <= timezone.now() + timedelta(seconds=7)
