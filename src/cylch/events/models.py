"""The event spine: everything that happens to or about a person, append-only.

A correction is a new event that ``supersedes`` the old one; nothing is updated in place.
``(organisation, external_id)`` is unique so an agency can send the same event twice safely.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.access.policy import Sensitivity


class Source(models.TextChoices):
    PORTAL = "portal", _("Report form")
    WEB = "web", _("Recorded in Cylch")
    API = "api", _("Agency system (API)")
    CSV = "csv", _("CSV import")
    FHIR = "fhir", _("FHIR message")
    DEMO = "demo", _("Synthetic demo data")
    SYSTEM = "system", _("Cylch")


class Event(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(max_length=80, help_text="A code from the concern taxonomy.")
    person = models.ForeignKey(
        "identity.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        help_text="The person it is about. Empty only for household-level events.",
    )
    household = models.ForeignKey(
        "identity.Household",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        help_text="The household the person lived in when it was recorded.",
    )
    agency_record = models.ForeignKey(
        "identity.AgencyRecord",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        help_text="The recording agency's record of the person; events follow it if a link is undone.",
    )
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="events")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    recorder_name = models.CharField(max_length=120, blank=True)
    recorder_role = models.CharField(max_length=120, blank=True)
    recorder_contact = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    sensitivity = models.CharField(max_length=20, choices=Sensitivity.choices)
    summary = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=120, null=True, blank=True)
    fingerprint = models.CharField(max_length=64, help_text="Digest of the content, to tell a resend from a clash.")
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=Q(external_id__isnull=False),
                name="event_org_external_id",
            ),
            models.CheckConstraint(
                condition=Q(person__isnull=False) | Q(household__isnull=False), name="event_has_subject"
            ),
        ]
        indexes = [
            models.Index(fields=["person", "occurred_at"]),
            models.Index(fields=["household", "occurred_at"]),
            models.Index(fields=["code", "occurred_at"]),
            # Entries about a household as a whole: without it SQLite answers "person is null"
            # from the person index and walks every household-level row (seconds at 10M).
            models.Index(
                fields=["household", "occurred_at"],
                condition=Q(person__isnull=True),
                name="event_household_level_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.occurred_at:%Y-%m-%d}"


class ImportStatus(models.TextChoices):
    STORED = "stored", _("Stored")
    REJECTED = "rejected", _("Rejected: nothing stored")


class ImportRun(models.Model):
    """One file, batch or bundle an organisation sent: what it held and what became of it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="imports")
    source = models.CharField(max_length=10, choices=Source.choices)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Digest of the file, to recognise a re-import.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ImportStatus.choices)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    new_persons = models.PositiveIntegerField(default=0)
    links = models.PositiveIntegerField(default=0, help_text="Records linked to a person already known.")
    errors = models.JSONField(default=list, blank=True, help_text="The first problems found, by line and column.")
    error_count = models.PositiveIntegerField(default=0)
    register_people = models.JSONField(
        default=list,
        blank=True,
        help_text="Person ids of the file's children on the register or looked after when it was stored.",
    )
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )

    class Meta:
        indexes = [models.Index(fields=["organisation", "started_at"])]

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.source} {self.filename} {self.status}"
