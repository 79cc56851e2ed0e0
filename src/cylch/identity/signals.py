"""``link_undone`` is sent inside :func:`cylch.identity.services.link_undo`'s transaction, once per
undo, so listeners (the rules app: alerts built on the moved entries) commit or roll back with it.
Identity does not read the apps built on it; they listen."""

from django.dispatch import Signal

# kwargs: link (the retired PersonLink), old_person, new_person, event_ids (the entries that
# moved with the agency record), actor, reason
link_undone = Signal()
