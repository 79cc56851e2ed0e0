"""Reports to children's services (the duty to report) and what the front door does with them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel


class Channel(models.TextChoices):
    PRACTITIONER = "practitioner", _("Practitioner report form")
    PUBLIC = "public", _("Public report form")
    API = "api", _("Agency system")
    TELEPHONE = "telephone", _("Telephone, recorded by the front door")


class Outcome(models.TextChoices):
    NO_FURTHER_ACTION = "no_further_action", _("No further action")
    INFORMATION_ADVICE = "information_advice_assistance", _("Information, advice and assistance")
    EARLY_HELP = "early_help", _("Early help or family support")
    ASSESSMENT = "care_and_support_assessment", _("Care and support assessment")
    STRATEGY_DISCUSSION = "strategy_discussion", _("Strategy discussion")
    ALREADY_OPEN = "already_open_case", _("Already open: passed to the allocated worker")


class Status(models.TextChoices):
    RECEIVED = "received", _("Received, waiting for a decision")
    DECIDED = "decided", _("Decided")


class Report(BaseModel):
    reference = models.CharField(max_length=11, unique=True, help_text="XXXX-XXXX-C, with a check character.")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    language = models.CharField(max_length=2, default="en", help_text="The language the report maker chose.")
    received_at = models.DateTimeField(db_index=True)

    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports_made"
    )
    maker_organisation = models.ForeignKey(
        "access.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="reports_made"
    )
    maker_name = models.CharField(max_length=200, blank=True)
    maker_role = models.CharField(max_length=200, blank=True)
    maker_email = models.EmailField(blank=True, help_text="Where the acknowledgement and outcome go.")
    maker_phone = models.CharField(max_length=40, blank=True)
    external_id = models.CharField(
        max_length=120, null=True, blank=True, help_text="The sending system's own id (API reports)."
    )
    source_ip_hash = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="Salted hash of a public sender's address, for rate limiting.",
    )

    concern_codes = models.JSONField(default=list, help_text="Taxonomy codes the report maker chose.")
    what_happened = models.TextField()
    when_happened = models.CharField(max_length=200, blank=True)
    child_words = models.TextField(blank=True, help_text="What the child said, in their own words, if known.")
    actions_taken = models.TextField(blank=True, help_text="What the report maker has already done.")
    immediate_danger = models.BooleanField(default=False)
    urgent = models.BooleanField(default=False, db_index=True)
    out_of_hours = models.BooleanField(
        default=False,
        help_text="Arrived after 15:00 before a weekend or holiday, or out of hours: also on the EDT queue.",
    )

    local_authority = models.ForeignKey(
        "access.LocalAuthority",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
        help_text="The triage queue; empty when the child's address is not known (national queue).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    decision_due_at = models.DateTimeField(help_text="1 working day after receipt.")
    feedback_due_on = models.DateField(help_text="7 working days after receipt.")

    outcome = models.CharField(max_length=40, choices=Outcome.choices, blank=True)
    rationale = models.TextField(blank=True)
    support_offered = models.TextField(blank=True, help_text="Other support offered when no action is taken.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="report_decisions"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    feedback_sent_at = models.DateTimeField(null=True, blank=True)
    decision_warned_at = models.DateTimeField(null=True, blank=True)
    decision_escalated_at = models.DateTimeField(null=True, blank=True)
    feedback_chased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["maker_organisation", "external_id"],
                condition=Q(external_id__isnull=False),
                name="report_org_external_id",
            )
        ]
        indexes = [models.Index(fields=["local_authority", "status", "urgent", "received_at"])]

    def __str__(self) -> str:
        return self.reference


class SubjectRole(models.TextChoices):
    CHILD = "child", _("Child")
    ADULT = "adult", _("Adult")


class ReportSubject(models.Model):
    """A child or adult named in a report, as the report maker gave them, and who they are."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="subjects")
    role = models.CharField(max_length=10, choices=SubjectRole.choices)
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="report_subjects")
    agency_record = models.ForeignKey(
        "identity.AgencyRecord", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    relationship_to_child = models.CharField(max_length=120, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "role"])]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.role} {self.person_id}"


class BodyMapMark(models.Model):
    """An injury marked on the front or back outline of a body."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="injuries")
    subject = models.ForeignKey(ReportSubject, on_delete=models.CASCADE, related_name="injuries")
    side = models.CharField(max_length=5, choices=[("front", _("Front")), ("back", _("Back"))])
    x = models.FloatField(help_text="0-1 across the outline.")
    y = models.FloatField(help_text="0-1 down the outline.")
    location = models.CharField(max_length=120)
    size = models.CharField(max_length=60, blank=True)
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.side} {self.location}"


class Attachment(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="attachments")
    original_name = models.CharField(max_length=200)
    stored_name = models.CharField(
        max_length=80, unique=True, help_text="File name under the private upload directory."
    )
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    scan_status = models.CharField(max_length=12, default="pending")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name


class Level(models.TextChoices):
    PRACTITIONER = "practitioner", _("Practitioner to practitioner")
    MANAGER = "manager", _("Manager to manager")
    SENIOR = "senior", _("Senior manager")


# Working days each step of the resolution of professional differences has (one table, tested).
LEVEL_DAYS = {Level.PRACTITIONER: 2, Level.MANAGER: 5, Level.SENIOR: 10}
NEXT_LEVEL = {Level.PRACTITIONER: Level.MANAGER, Level.MANAGER: Level.SENIOR}


class ChallengeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Challenge(BaseModel):
    """ "I remain concerned": the report maker disagrees with the decision (RR 5.2)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="challenges")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="challenges_raised")
    reason = models.TextField()
    level = models.CharField(max_length=15, choices=Level.choices, default=Level.PRACTITIONER)
    status = models.CharField(max_length=10, choices=ChallengeStatus.choices, default=ChallengeStatus.OPEN)
    due_on = models.DateField(help_text="When the current step must answer.")
    escalated_for_lateness_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.report_id} {self.level} {self.status}"


class ChallengeStep(models.Model):
    """One rung of the ladder: who answered, what they said, what happened next."""

    class Result(models.TextChoices):
        DECISION_STANDS = "decision_stands", _("The decision stands")
        DECISION_CHANGED = "decision_changed", _("The decision is changed")
        ESCALATED = "escalated", _("Taken to the next level")

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="steps")
    level = models.CharField(max_length=15, choices=Level.choices)
    started_at = models.DateTimeField()
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True)
    result = models.CharField(max_length=20, choices=Result.choices, blank=True)

    def __str__(self) -> str:
        return f"{self.challenge_id} {self.level} {self.result or 'waiting'}"
