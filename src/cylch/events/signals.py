"""``event_recorded`` is sent inside the recording transaction, once per newly stored event
(not for a resend), so listeners (rules, register alerts) commit or roll back with it."""

from django.dispatch import Signal

event_recorded = Signal()  # kwargs: event
