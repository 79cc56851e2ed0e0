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


class AbuseOrNeglect(models.TextChoices):
    """The first criterion of a Child Practice Review (Working Together vol. 2, ch. 6 and 7; TA
    Introduction): abuse or neglect of the child known or suspected. Blank: not yet recorded."""

    YES = "yes", _("Yes: abuse or neglect is known or suspected")
    NO = "no", _("No: neither known nor suspected")


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
    abuse_or_neglect = models.CharField(
        max_length=3, choices=AbuseOrNeglect.choices, blank=True,
        help_text="Whether abuse or neglect is known or suspected; blank while not yet known.",
    )  # fmt: skip
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

    @property
    def delay_reason_label(self) -> str:
        """The reason for a delay in words (the field keeps the code; its choices live in
        ``DelayReason``, declared below, so the field carries none)."""
        return str(DelayReason(self.delay_reason).label) if self.delay_reason in DelayReason.values else ""


class DelayReason(models.TextChoices):
    PARALLEL = "parallel_investigation", _("Parallel investigation (police, coroner, other)")
    REVIEWER = "reviewer_availability", _("Reviewer availability")
    AGENCY = "agency_information", _("Waiting for agency information")
    FAMILY = "family_involvement", _("Arranging the family's involvement")
    OTHER = "other", _("Another reason")


# --- the report, structured to the template (TA appendix 6 with appendix 7's additions) -------


class ReviewReport(BaseModel):
    """The review's report. Sections are keyed by the ids in ``report.yaml``, so the template is
    data: ``{section: {"text": str, "rows": [[str, ...]], "omitted": str}}``. A section left empty
    carries the reason it was left out (TA appendix 7.1: absence must be explained)."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="report")
    sections = models.JSONField(default=dict, blank=True)
    rationales = models.JSONField(
        default=dict, blank=True, help_text="Quality checklist item id -> why it is missing, where it is."
    )

    def __str__(self) -> str:
        return f"report of {self.review}"

    def section(self, key: str) -> dict:
        return self.sections.get(key) or {}


# --- the recommendations tracker (TA section 3.4, rec. 2.3) ------------------------------------


class Recommendation(BaseModel):
    class Kind(models.TextChoices):
        STRATEGIC = "strategic", _("Strategic")
        OPERATIONAL = "operational", _("Operational")

    class Level(models.TextChoices):
        LOCAL = "local", _("Local")
        REGIONAL = "regional", _("Regional")
        NATIONAL = "national", _("National")

    class Urgency(models.TextChoices):
        IMMEDIATE = "immediate", _("Immediate")
        PLANNING = "planning", _("Requires planning")
        CONSIDERATION = "consideration", _("Needs further consideration")

    class Status(models.TextChoices):
        OPEN = "open", _("Not started")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        NOT_ACHIEVED = "not_achieved", _("Closed, not achieved")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="recommendations")
    number = models.PositiveSmallIntegerField()
    text = models.TextField(help_text="What is to be done: specific, one action.")
    success_measure = models.TextField(help_text="How the board will know it is done and has worked (measurable).")
    text_cy = models.TextField(blank=True, help_text="The recommendation in Welsh, for the bilingual report.")
    success_measure_cy = models.TextField(blank=True, help_text="The measure of success in Welsh.")
    owner_agency = models.CharField(max_length=200, help_text="The agency accountable for it.")
    owner_organisation = models.ForeignKey(
        "access.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="review_recommendations"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    level = models.CharField(max_length=20, choices=Level.choices)
    urgency = models.CharField(max_length=20, choices=Urgency.choices)
    due_on = models.DateField()
    themes = models.JSONField(default=list, blank=True, help_text="Code-book theme ids (coding/codebook.yaml).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    evidence = models.TextField(blank=True, help_text="Required to close: what shows it was done.")
    closed_on = models.DateField(null=True, blank=True)
    last_reviewed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["review", "number"]
        constraints = [models.UniqueConstraint(fields=["review", "number"], name="one_number_per_recommendation")]

    def __str__(self) -> str:
        return f"recommendation {self.number} of {self.review}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.IN_PROGRESS)

    def wording(self, language: str) -> tuple[str, str, bool]:
        """(text, measure, borrowed) in ``language``: the Welsh wording when asked for and
        written, otherwise the English, ``borrowed`` saying the Welsh is still to come."""
        if language == "cy" and self.text_cy.strip():
            return self.text_cy, self.success_measure_cy or self.success_measure, not self.success_measure_cy.strip()
        return self.text, self.success_measure, language == "cy"


class RecommendationUpdate(models.Model):
    """One progress update or annual review: the tracker's history, never edited."""

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="updates")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Recommendation.Status.choices)
    note = models.TextField()
    annual_review = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.status} on {self.at:%Y-%m-%d}"


# --- the repository: coded reviews (TA methodology) ---------------------------------------------


class PreviousHistory(models.TextChoices):
    """The child's previous children's services history (TA table 5), one per review."""

    BELOW_THRESHOLD = "below_threshold", _("Referred, but did not meet the threshold for children's services")
    LOOKED_AFTER = "looked_after", _("Looked after")
    REGISTER = "register", _("On the child protection register")
    ADOPTED = "adopted", _("Adopted")
    NOT_KNOWN_TO_CS = "not_known_to_cs", _("Not known to children's services")
    NOT_KNOWN = "not_known", _("Not known")


class CodedReview(BaseModel):
    """A review in the national repository, coded for analysis. Either one Cylch tracked from
    referral (``review``) or one published elsewhere and added (uploaded and coded)."""

    board_area = models.ForeignKey("access.BoardArea", on_delete=models.PROTECT, related_name="coded_reviews")
    review = models.OneToOneField(Review, null=True, blank=True, on_delete=models.SET_NULL, related_name="coded")
    reference = models.CharField(max_length=60, help_text="The board's own reference, e.g. CTMSB 2/2021.")
    type = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    incident_on = models.DateField(null=True, blank=True)
    referred_on = models.DateField(null=True, blank=True)
    learning_event_on = models.DateField(null=True, blank=True)
    signed_off_on = models.DateField(null=True, blank=True)
    published_on = models.DateField(null=True, blank=True)
    child_gender = models.CharField(max_length=20, blank=True)
    child_age_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Age at the incident; blank when the review does not say."
    )
    previous_history = models.CharField(
        max_length=30, choices=PreviousHistory.choices, default=PreviousHistory.NOT_KNOWN
    )
    excluded = models.BooleanField(
        default=False, help_text="Left out of analysis (e.g. historical abuse reported as an adult)."
    )
    public_summary = models.TextField(blank=True, help_text="The anonymised public summary shown in the repository.")
    public_summary_cy = models.TextField(
        blank=True, help_text="The public summary in Welsh, shown on Welsh pages (else the English one is)."
    )
    public_text = models.TextField(blank=True, help_text="The published, anonymised text (searchable).")
    is_public = models.BooleanField(default=False, help_text="Shown in the public repository.")

    class Meta:
        ordering = ["-published_on", "reference"]
        constraints = [models.UniqueConstraint(fields=["board_area", "reference"], name="one_reference_per_board")]

    def __str__(self) -> str:
        return self.reference


class ReviewCode(models.Model):
    """One code present in a review. A code not stored is "not known", never "absent" (TA)."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Coded by a reviewer")
        ASSISTANT = "assistant", _("Suggested and accepted")

    coded_review = models.ForeignKey(CodedReview, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=60)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["coded_review", "code"], name="one_code_per_review")]

    def __str__(self) -> str:
        return self.code


class CodeSuggestion(models.Model):
    """What the coding assistant suggested, and the reviewer's decision on it."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("Waiting for a decision")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    coded_review = models.ForeignKey(CodedReview, on_delete=models.CASCADE, related_name="suggestions")
    code = models.CharField(max_length=60)
    score = models.FloatField()
    evidence = models.JSONField(default=list, help_text="The sentences that support it.")
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-score", "code"]
        constraints = [models.UniqueConstraint(fields=["coded_review", "code"], name="one_suggestion_per_code")]

    def __str__(self) -> str:
        return f"{self.code} ({self.decision})"


# --- framework self-assessment (TA rec. 3.5) ---------------------------------------------------


class Assessment(BaseModel):
    """A board's or local authority's yearly self-assessment against one framework file."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    framework = models.CharField(max_length=80, help_text="The framework's id in its file.")
    framework_version = models.CharField(max_length=40)
    board_area = models.ForeignKey(
        "access.BoardArea", null=True, blank=True, on_delete=models.PROTECT, related_name="assessments"
    )
    local_authority = models.ForeignKey(
        "access.LocalAuthority", null=True, blank=True, on_delete=models.PROTECT, related_name="assessments"
    )
    year = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    submitted_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-year", "framework"]
        constraints = [
            models.UniqueConstraint(
                fields=["framework", "board_area", "local_authority", "year"], name="one_assessment_per_year"
            ),
            models.CheckConstraint(
                condition=models.Q(board_area__isnull=False) | models.Q(local_authority__isnull=False),
                name="assessment_has_an_assessor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.framework} {self.year}"


class AssessmentAnswer(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    component = models.CharField(max_length=40)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)
    evidence = models.TextField(blank=True)
    actions = models.TextField(blank=True)

    class Meta:
        ordering = ["component"]
        constraints = [models.UniqueConstraint(fields=["assessment", "component"], name="one_answer_per_component")]

    def __str__(self) -> str:
        return f"{self.component}: {self.grade}"
