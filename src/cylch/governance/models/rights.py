"""A request a person makes about their record, and the month it must be answered in."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel
from cylch.governance.models.retention import RequesterRelationship


class RightsRequestKind(models.TextChoices):
    ACCESS = "access", _("A copy of everything held (subject access)")
    RECTIFICATION = "rectification", _("Correct what is wrong")
    ERASURE = "erasure", _("Erase what is held")
    RESTRICTION = "restriction", _("Restrict how it is used")
    OBJECTION = "objection", _("Object to how it is used")


class RightsRequest(BaseModel):
    """One request under UK GDPR articles 15-21, logged by the local authority answering it, with
    the date it must be answered by (article 12(3): a month, extendable by two more)."""

    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="rights_requests")
    organisation = models.ForeignKey(
        "access.Organisation", on_delete=models.PROTECT, related_name="+", help_text="The team answering it."
    )
    kind = models.CharField(max_length=20, choices=RightsRequestKind.choices)
    requested_by_name = models.CharField(max_length=200)
    requester_relationship = models.CharField(max_length=20, choices=RequesterRelationship.choices)
    received_on = models.DateField(help_text="When a valid request arrived; the month runs from this day.")
    due_on = models.DateField()
    extended_to = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    details = models.TextField(blank=True, help_text="What was asked, in the requester's words or a summary.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answered_on = models.DateField(null=True, blank=True)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    warned_at = models.DateTimeField(null=True, blank=True)  # "due soon" told, once
    overdue_told_at = models.DateTimeField(null=True, blank=True)  # "overdue" told, once

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "answered_on", "due_on"]),
            models.Index(fields=["person", "received_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} request about {self.person_id}, received {self.received_on}"

    @property
    def deadline(self):
        """The day it must be answered by: the extended date when there is one."""
        return self.extended_to or self.due_on

    @property
    def is_open(self) -> bool:
        return self.answered_on is None
