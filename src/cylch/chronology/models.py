"""What the chronology adds to the spine: significance marks and the child's story.

Events stay append-only; a mark is an annotation beside one, and the story is versioned
(each save is a new row, the newest is the story), so nothing anyone wrote is lost.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Significance(models.Model):
    """A practitioner marked an entry as significant for the child (a turning point, an
    incident, a decision). Shared: everyone who may see the entry sees the mark."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="significance_marks")
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="+")
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    marked_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=models.Q(removed_at__isnull=True), name="significance_one_live_mark"
            )
        ]

    def __str__(self) -> str:
        return f"significant: {self.event_id}"


class ChildStory(models.Model):
    """A short summary of the child's story in plain words, which meetings open with (RR 3.1)."""

    child = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="stories")
    summary = models.TextField()
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="+")
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    written_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["child", "written_at"])]

    def __str__(self) -> str:
        return f"story of {self.child_id} at {self.written_at:%Y-%m-%d}"
