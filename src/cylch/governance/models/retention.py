"""Governance: retention and people's rights (see docs/governance.md, "Retention" and "People's rights").

* ``LegalHold``: keeps a person's records, or one record, past its retention date until it is
  released (litigation, an inquiry, a complaint, a review).
* ``RetentionRun``: one run of ``cylch retention run``: when, by whom, under which schedule
  (its SHA-256), what it removed and how it ended.
* ``Removal``: one record deleted or anonymised by a run (or one batch of audit entries
  redacted). It holds no content: the class, the record's id, the rule, the counts and the
  SHA-256 of what was removed; the run's audit entry for it says the same inside the chain.
* ``Rectification``: a correction made because the person (or someone for them) asked, beside
  the superseding event that carries it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel

__all__ = [
    "LegalHold",
    "Rectification",
    "Removal",
    "RemovalAction",
    "RequesterRelationship",
    "RetentionRun",
    "RunStatus",
]


class LegalHold(BaseModel):
    """Nothing it covers is deleted or anonymised while it is in force (``released_at`` empty).

    Either a person (every record about them, in every class, and the audit entries naming them)
    or one record (``record_class`` and ``record_id``, the record's public id).
    """

    person = models.ForeignKey(
        "identity.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="legal_holds",
        help_text="The person whose records are held. Empty for a hold on one record.",
    )
    record_class = models.CharField(
        max_length=30, blank=True, help_text="For a hold on one record: its class in the retention schedule."
    )
    record_id = models.CharField(
        max_length=64, blank=True, help_text="For a hold on one record: its public id (or an audit entry's number)."
    )
    reason = models.TextField(help_text="Why the records must be kept (10 characters or more).")
    reference = models.CharField(
        max_length=120, blank=True, help_text="The claim, court, inquiry or complaint reference, if there is one."
    )
    placed_by_label = models.CharField(max_length=200, help_text="Who placed it, as it stood at the time.")
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_by_label = models.CharField(max_length=200, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(person__isnull=False, record_class="", record_id="")
                    | (Q(person__isnull=True) & ~Q(record_class="") & ~Q(record_id=""))
                ),
                name="legal_hold_person_or_record",
            ),
            models.UniqueConstraint(
                fields=["person"], condition=Q(released_at__isnull=True), name="legal_hold_one_per_person"
            ),
            models.UniqueConstraint(
                fields=["record_class", "record_id"],
                condition=Q(released_at__isnull=True, person__isnull=True),
                name="legal_hold_one_per_record",
            ),
        ]

    def __str__(self) -> str:
        what = f"person {self.person_id}" if self.person_id else f"{self.record_class} {self.record_id}"
        return f"legal hold on {what}{'' if self.released_at is None else ' (released)'}"

    @property
    def active(self) -> bool:
        return self.released_at is None


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Stopped by an error: nothing of the failed batch was removed")


class RetentionRun(BaseModel):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by_label = models.CharField(max_length=200)
    today = models.DateField(help_text="The date the schedule was applied for.")
    schedule_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the schedule file used.")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    removed = models.JSONField(default=dict, blank=True, help_text="Records removed, by class.")
    kept = models.JSONField(default=dict, blank=True, help_text="Due records kept (held or still needed), by class.")
    error = models.TextField(blank=True, help_text="What stopped a failed run (no record content).")

    class Meta:
        constraints = [
            # Two runs at once would race for the same records: the database refuses a second.
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="retention_one_running")
        ]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"retention run {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class RemovalAction(models.TextChoices):
    DELETED = "deleted", _("Deleted")
    ANONYMISED = "anonymised", _("Anonymised")
    REDACTED = "redacted", _("Content erased (audit entries)")


class Removal(models.Model):
    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="removals")
    record_class = models.CharField(max_length=30)
    record_id = models.CharField(max_length=64, help_text="The record's public id; for audit entries, their numbers.")
    action = models.CharField(max_length=12, choices=RemovalAction.choices)
    rule = models.CharField(max_length=200, help_text="The rule that decided the date, as the schedule names it.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of what was removed (docs/governance.md says how).")
    counts = models.JSONField(default=dict, help_text="Rows removed or changed, by table.")
    audit_seq = models.BigIntegerField(help_text="The audit entry that records the removal.")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record_class", "record_id"], name="removal_once_per_record")]
        indexes = [models.Index(fields=["run", "record_class"])]

    def __str__(self) -> str:
        return f"{self.record_class} {self.record_id} {self.action}"


class RequesterRelationship(models.TextChoices):
    SELF = "self", _("The person themselves")
    PARENT = "parent", _("A parent or carer with parental responsibility")
    REPRESENTATIVE = "representative", _("A representative (advocate, solicitor) with authority")


class Rectification(BaseModel):
    """A correction recorded because the person asked (UK GDPR article 16). The correction is
    a new event superseding the original, which is kept; this row says who asked and why."""

    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="rectifications")
    original = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="rectifications_of")
    correction = models.OneToOneField("events.Event", on_delete=models.PROTECT, related_name="rectification")
    requested_by_name = models.CharField(max_length=200, help_text="Who asked for the correction.")
    requester_relationship = models.CharField(max_length=20, choices=RequesterRelationship.choices)
    requested_on = models.DateField(help_text="When the request was received (the month to answer runs from it).")
    reason = models.TextField(help_text="What was wrong, in the requester's words or the recorder's summary.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["person", "recorded_at"])]

    def __str__(self) -> str:
        return f"rectification of event {self.original_id} for {self.person_id}"
