"""Safeguarding reviews: a referral to a board's review sub-group, the chair's decision on the
type of review, and the review's timeline of key dates against what is expected.

The review types, their steps and timescales are configuration (``types.yaml``), so the move
from Child Practice Reviews to the Single Unified Safeguarding Review is a data change.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel


class Incident(models.TextChoices):
    DIED = "died", _("The child died")
    LIFE_THREATENING = "potentially_life_threatening_injury", _("Potentially life-threatening injury")
    IMPAIRMENT = "serious_permanent_impairment", _("Serious and permanent impairment of health or development")


class Referral(BaseModel):
    board_area = models.ForeignKey("access.BoardArea", on_delete=models.PROTECT, related_name="review_referrals")
    child = models.ForeignKey(
        "identity.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="review_referrals"
    )
    incident = models.CharField(max_length=40, choices=Incident.choices)
    incident_on = models.DateField()
    impairment_identified_on = models.DateField(
        null=True, blank=True, help_text="For serious and permanent impairment: when it was identified."
    )
    referred_on = models.DateField()
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    summary = models.TextField(blank=True)
    proposed_type = models.CharField(max_length=20)
    proposal_reasons = models.JSONField(default=list, help_text="What Cylch found, in words, for the chair.")
    decided_type = models.CharField(max_length=20, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_on = models.DateField(null=True, blank=True)
    decision_reasons = models.TextField(blank=True)

    class Meta:
        ordering = ["-referred_on", "-pk"]

    def __str__(self) -> str:
        return f"referral {self.public_id} ({self.incident}, {self.incident_on})"

    @property
    def proposed_name(self) -> str:
        from cylch.reviews.services import type_label

        return type_label(self.proposed_type)


class Review(BaseModel):
    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="review")
    type = models.CharField(max_length=20)
    scope_from = models.DateField(help_text="The start of the period the review looks at.")
    scope_rationale = models.TextField(blank=True, help_text="Required when the period is longer than 12 months.")
    completion_due_on = models.DateField()
    completed_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.type} review {self.public_id}"

    @property
    def type_name(self) -> str:
        from cylch.reviews.services import type_label

        return type_label(self.type)


class Milestone(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="milestones")
    step = models.CharField(max_length=40)
    position = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)
    delay_reason = models.CharField(max_length=30, blank=True)
    delay_note = models.TextField(blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["review", "step"], name="one_milestone_per_step")]

    def __str__(self) -> str:
        return f"{self.step} due {self.due_on}"

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        from cylch.reviews.services import config

        steps = {st["key"]: st["label"] for st in config()["types"][self.review.type]["steps"]}
        names = steps.get(self.step, {})
        return names.get("cy" if (get_language() or "en").startswith("cy") else "en", self.step)


class DelayReason(models.TextChoices):
    PARALLEL = "parallel_investigation", _("Parallel investigation (police, coroner, other)")
    REVIEWER = "reviewer_availability", _("Reviewer availability")
    AGENCY = "agency_information", _("Waiting for agency information")
    FAMILY = "family_involvement", _("Arranging the family's involvement")
    OTHER = "other", _("Another reason")
