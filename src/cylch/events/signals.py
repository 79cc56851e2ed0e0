"""``event_recorded`` is sent inside the recording transaction, once per newly stored event
(not for a resend), so listeners (rules, register alerts) commit or roll back with it.

``batch_recorded`` is sent once for a set of events stored together, after ``event_recorded``
(with ``batch=True``) for each of them, inside the same transaction: an agency's batch
(``events/batch.py``) or the events recorded inside ``events.services.recording_together`` (a
report's). kwargs: ``events``, the new events in the order they were stored. A listener that
would do per event what is cheaper done once for the set (the rules) waits for this."""

from django.dispatch import Signal

event_recorded = Signal()  # kwargs: event, batch (True when batch_recorded follows)
batch_recorded = Signal()  # kwargs: events
