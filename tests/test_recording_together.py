"""``events.services.recording_together``: events recorded in the block reach the batch
listeners (the rules) together, once, when it ends; nothing is sent for a block that fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from cylch.events.models import Event
from cylch.events.services import record_event, recording_together
from cylch.events.signals import batch_recorded, event_recorded
from tests import factories

CODE = "education.behaviour.change"


@pytest.fixture
def heard():
    got = {"batches": [], "single": []}

    def on_batch(sender, events, **kwargs):
        got["batches"].append([e.pk for e in events])

    def on_event(sender, event, batch=False, **kwargs):
        got["single"].append((event.pk, batch))

    batch_recorded.connect(on_batch, dispatch_uid="test.heard.batch")
    event_recorded.connect(on_event, dispatch_uid="test.heard.event")
    yield got
    batch_recorded.disconnect(dispatch_uid="test.heard.batch")
    event_recorded.disconnect(dispatch_uid="test.heard.event")


def _record(fam, n):
    return record_event(organisation=fam.orgs.school, code=CODE, occurred_at=timezone.now() - timedelta(hours=n),
                        person=fam.alys, recorded_by=fam.staff.school_lead, details=factories.minimal_details(CODE)).event  # fmt: skip


def test_events_in_the_block_reach_the_batch_listeners_once_together(prydderch, heard):
    with transaction.atomic(), recording_together():
        first = _record(prydderch, 1)
        with recording_together():  # an inner block adds to the outer one
            second = _record(prydderch, 2)
        assert heard["batches"] == []  # not before the block ends
    assert heard["batches"] == [[first.pk, second.pk]]
    assert heard["single"] == [(first.pk, True), (second.pk, True)]

    third = _record(prydderch, 3)  # outside: one by one, as before
    assert heard["single"][-1] == (third.pk, False) and len(heard["batches"]) == 1


def test_a_block_that_fails_sends_nothing_and_stores_nothing(prydderch, heard):
    before = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), recording_together():
        _record(prydderch, 1)
        raise RuntimeError("the report could not be stored")
    assert heard["batches"] == [] and Event.objects.count() == before
