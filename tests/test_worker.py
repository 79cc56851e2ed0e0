"""`cylch worker --once` runs every clock and sweep and then the outbox, against real records."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from cylch.notify.models import OutboxMessage, OutboxStatus
from cylch.protection.models import DueKind
from tests.test_protection import _to_conference, days_ago

pytestmark = pytest.mark.django_db


def test_one_round_escalates_an_overdue_conference_and_sends_the_email(prydderch, smtp_server):
    p = prydderch
    episode, _icpc = _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    deadline = episode.deadlines.get(kind=DueKind.ICPC)
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    deadline.refresh_from_db()
    assert deadline.escalated_at is not None
    line = out.getvalue()
    for job in ("reports:", "challenges:", "alerts:", "protection:", "outbox:"):
        assert job in line
    # The team manager's escalation went out by email in the same round.
    sent = OutboxMessage.objects.filter(to=p.staff.team_manager.email, status=OutboxStatus.SENT)
    assert sent.exists()
    assert any(p.staff.team_manager.email in m.rcpt_tos for m in smtp_server.received)
