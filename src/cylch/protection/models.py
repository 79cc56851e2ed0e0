"""The statutory child-protection process as working records.

The event spine stays the record of what happened: every step here that the procedures name
(a strategy discussion held, a registration, a conference) is also written to the spine, so
the chronology, the rules and the register status read it like anything else. These tables
hold what the spine cannot: who was invited and why, the plan as a living document, the
circulation of each document to each invitee, and every statutory date with when it was met.

One ``Episode`` is one child's passage through the process, from the front door's decision
to the end of the plan. Siblings each have their own episode: conferences decide for each
child separately.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel

CATEGORY_CHOICES = [
    ("physical", _("Physical abuse")),
    ("emotional", _("Emotional or psychological abuse")),
    ("sexual", _("Sexual abuse")),
    ("financial", _("Financial abuse")),
    ("neglect", _("Neglect")),
]


def category_labels(keys) -> list[str]:
    labels = dict(CATEGORY_CHOICES)
    return [str(labels.get(k, k)) for k in keys]


class Stage(models.TextChoices):
    STRATEGY = "strategy", _("Strategy discussion")
    ENQUIRY = "enquiry", _("Section 47 enquiry")
    CONFERENCE_DUE = "conference_due", _("Initial conference to be held")
    REGISTERED = "registered", _("On the child protection register")
    TRANSFER_IN = "transfer_in", _("Transfer conference to be held")
    CLOSED = "closed", _("Closed")


class Episode(BaseModel):
    child = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="protection_episodes")
    local_authority = models.ForeignKey("access.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        "access.Organisation", on_delete=models.PROTECT, related_name="+", help_text="The children's services team."
    )
    report = models.ForeignKey(
        "reports.Report", null=True, blank=True, on_delete=models.PROTECT, related_name="protection_episodes"
    )
    social_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.STRATEGY)
    transfer_to = models.ForeignKey(
        "access.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The receiving authority's children's services, while a transfer conference is awaited.",
    )
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["child"], condition=Q(closed_on__isnull=True), name="one_open_episode_per_child"
            )
        ]

    def __str__(self) -> str:
        return f"episode {self.public_id} ({self.stage})"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class MeetingKind(models.TextChoices):
    STRATEGY = "strategy", _("Strategy discussion")
    INITIAL = "initial", _("Initial child protection conference")
    REVIEW = "review", _("Review child protection conference")
    TRANSFER = "transfer", _("Transfer child protection conference")
    CORE_GROUP = "core_group", _("Core group meeting")

    @property
    def is_conference(self) -> bool:
        return self in (MeetingKind.INITIAL, MeetingKind.REVIEW, MeetingKind.TRANSFER)


class MeetingFormat(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    VIRTUAL = "virtual", _("Virtual")
    HYBRID = "hybrid", _("Hybrid")


class Decision(models.TextChoices):
    # strategy discussion
    SECTION_47 = "section_47_enquiries", _("Section 47 enquiries")
    ASSESSMENT = "care_and_support_assessment", _("Care and support assessment, no section 47")
    NO_FURTHER_ACTION = "no_further_action", _("No further action")
    FURTHER_STRATEGY = "further_strategy_discussion", _("A further strategy discussion")
    # conferences
    REGISTER = "registered", _("Register: the child is at continuing risk of harm")
    NOT_REGISTER = "not_registered", _("Do not register")
    REMAIN = "remain_registered", _("Remain on the register")
    DEREGISTER = "deregistered", _("Remove from the register")


class Meeting(BaseModel):
    """A strategy discussion, a conference or a core group: the same bones, different rules."""

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="meetings")
    kind = models.CharField(max_length=20, choices=MeetingKind.choices)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True)
    format = models.CharField(max_length=10, choices=MeetingFormat.choices, blank=True)
    language = models.CharField(
        max_length=2, default="en", choices=[("en", "English"), ("cy", "Cymraeg")], help_text="Held in."
    )
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    information_shared = models.TextField(blank=True)
    decision = models.CharField(max_length=40, choices=Decision.choices, blank=True)
    reasons = models.TextField(blank=True)
    immediate_action = models.TextField(blank=True, help_text="Immediate protective action agreed.")
    categories = models.JSONField(default=list, blank=True)
    progress = models.TextField(blank=True, help_text="Progress made since the last conference.")
    risk_of_future_harm = models.TextField(blank=True)
    record = models.TextField(blank=True, help_text="The conference record, in the language of the meeting.")
    translation_requested_at = models.DateTimeField(null=True, blank=True)
    record_translated = models.TextField(blank=True)
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["scheduled_for", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"

    @property
    def is_held(self) -> bool:
        return self.held_at is not None

    @property
    def kind_enum(self) -> MeetingKind:
        return MeetingKind(self.kind)

    @property
    def category_labels(self) -> list[str]:
        return category_labels(self.categories)


class Postponement(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="postponements")
    from_when = models.DateTimeField(null=True, blank=True)
    to_when = models.DateTimeField()
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"postponed to {self.to_when:%Y-%m-%d}"


class InviteeKind(models.TextChoices):
    AGENCY = "agency", _("Agency")
    PARENT = "parent", _("Parent or carer")
    CHILD = "child", _("The child")
    ADVOCATE = "advocate", _("Advocate")
    OTHER = "other", _("Other")


class Why(models.TextChoices):
    """Why someone is on a meeting's list, said to the reader in their language."""

    CHILDRENS_SERVICES = "childrens_services", _("children's services")
    GP = "gp", _("the child's GP")
    KNOWS_CHILD = "knows_child", _("knows the child")
    KNOWS_HOUSEHOLD = "knows_household", _("knows someone in the child's home")
    OWNS_ACTION = "owns_action", _("owns an action in the plan")
    ADDED = "added", _("added by children's services")
    PARENT = "parent", _("parent")
    STEP_PARENT = "step_parent", _("step-parent")
    CARER = "carer", _("carer")
    STRATEGY = "strategy", _("took part in the strategy discussion")
    OF_AGE = "of_age", _("of age and understanding")
    ADVOCATE = "advocate", _("offered to the child")
    TOOK_PART = "took_part", _("took part")


class Invitee(models.Model):
    """Someone invited to a meeting (or, for a strategy discussion, taking part)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="invitees")
    kind = models.CharField(max_length=10, choices=InviteeKind.choices)
    organisation = models.ForeignKey(
        "access.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey("identity.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    mandatory = models.BooleanField(default=False)
    why = models.CharField(max_length=20, choices=Why.choices, blank=True, help_text="Why they are on the list.")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.TextField(blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    attended = models.BooleanField(null=True, blank=True)
    report_requested = models.BooleanField(default=False)
    report_due_on = models.DateField(null=True, blank=True)
    report_received_at = models.DateTimeField(null=True, blank=True)
    report_text = models.TextField(blank=True)
    report_shared_with_parents_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.display_name}"

    @property
    def display_name(self) -> str:
        if self.organisation_id and not self.name:
            return self.organisation.name(get_language() or "en")
        if not self.name and self.kind == InviteeKind.ADVOCATE:
            return str(_("Independent advocate"))
        if not self.name and self.why == Why.GP:
            return str(_("The child's GP (not known to Cylch: add the practice)"))
        return self.name

    @property
    def active(self) -> bool:
        return self.removed_at is None


class Challenge(models.Model):
    """Professional challenge or dissent, recorded where it was raised (RR 5.2)."""

    class Kind(models.TextChoices):
        CHALLENGE = "challenge", _("Challenge")
        DISSENT = "dissent", _("Dissent from the decision")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="challenges")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    organisation = models.ForeignKey(
        "access.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raised_by = models.CharField(max_length=200)
    text = models.TextField()
    response = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} by {self.raised_by}"


class Enquiry(BaseModel):
    """A section 47 enquiry and its determination."""

    class Outcome(models.TextChoices):
        NOT_SUBSTANTIATED = "not_substantiated", _("Not substantiated")
        NO_CONTINUING_RISK = "substantiated_no_continuing_risk", _("Substantiated, no continuing risk")
        AT_RISK = "substantiated_at_risk", _("Substantiated and at continuing risk: convene a conference")

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="enquiries")
    strategy = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="+")
    started_on = models.DateField()
    joint_with_police = models.BooleanField(default=False)
    concluded_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=40, choices=Outcome.choices, blank=True)
    findings = models.TextField(blank=True)
    child_seen_alone = models.BooleanField(null=True, blank=True)

    def __str__(self) -> str:
        return f"section 47 from {self.started_on} ({self.outcome or 'open'})"


class Assessment(BaseModel):
    """The consolidated assessment: the agencies' contributions in one place (RR 6.1)."""

    class Trigger(models.TextChoices):
        AFTER_S47 = "after_section_47", _("After the section 47 enquiry")
        SIGNIFICANT_CHANGE = "significant_change", _("A significant change")
        REVIEW = "review", _("Before a review conference")

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="assessments")
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    analysis = models.TextField(blank=True)
    completed_on = models.DateField(null=True, blank=True)
    review_needed_since = models.DateTimeField(null=True, blank=True)
    review_needed_because = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"assessment ({self.trigger})"


class Contribution(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="contributions")
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"contribution from {self.organisation_id}"


class PlanKind(models.TextChoices):
    SAFETY = "safety", _("Interim safety plan")
    CSPP = "cspp", _("Care and support protection plan")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OUTLINE = "outline", _("Outline plan")
    DETAILED = "detailed", _("Detailed plan")
    ENDED = "ended", _("Ended")


class Plan(BaseModel):
    """A plan is its own living document, never a part of the minutes (RR KLOE 5)."""

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="plans")
    kind = models.CharField(max_length=10, choices=PlanKind.choices)
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    version = models.PositiveIntegerField(default=0)
    worries = models.TextField(blank=True, help_text="Harm statements: what we are worried about.")
    outcomes = models.TextField(blank=True, help_text="What needs to change.")
    child_can_do = models.TextField(blank=True, help_text="What the child can do if they feel unsafe.")
    contingency = models.TextField(blank=True)
    next_conference_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} ({self.status})"


class PlanVersion(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    saved_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="plan_version_number")]
        ordering = ["number"]

    def __str__(self) -> str:
        return f"plan {self.plan_id} v{self.number}"


class ActionStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    ON_TRACK = "on_track", _("On track")
    DELAYED = "delayed", _("Delayed")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("No longer needed")


class PlanAction(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="actions")
    text = models.TextField()
    owner_organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="+")
    owner_name = models.CharField(max_length=200, blank=True)
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.NOT_STARTED)

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def latest_update(self):
        """The last progress note (from the prefetched updates, when they were prefetched)."""
        updates = list(self.updates.all())
        return updates[-1] if updates else None


class ActionUpdate(models.Model):
    action = models.ForeignKey(PlanAction, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=12, choices=ActionStatus.choices)
    note = models.TextField()
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.status}: {self.note[:40]}"


class Document(models.TextChoices):
    DECISIONS = "decisions", _("Outline plan and summary of decisions")
    RECORD = "record", _("Full conference record")


class Circulation(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="circulations")
    document = models.CharField(max_length=10, choices=Document.choices)
    sent_at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "document"], name="one_circulation_per_document")]

    def __str__(self) -> str:
        return f"{self.document} of meeting {self.meeting_id}"


class Delivery(models.Model):
    """One invitee's copy of a circulated document, and how it reached them."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        POST = "post", _("Post")
        BY_HAND = "by_hand", _("By hand")

    circulation = models.ForeignKey(Circulation, on_delete=models.CASCADE, related_name="deliveries")
    invitee = models.ForeignKey(Invitee, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    outbox = models.ForeignKey(
        "notify.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_on = models.DateField(null=True, blank=True, help_text="For post and by hand: when it went.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["circulation", "invitee"], name="one_delivery_per_invitee")]

    def __str__(self) -> str:
        return f"{self.channel} to invitee {self.invitee_id}"


class Correction(models.Model):
    """A request to correct a circulated document, to the chair within 10 working days of
    receiving it, and the chair's answer."""

    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="corrections")
    document = models.CharField(max_length=10, choices=Document.choices)
    organisation = models.ForeignKey(
        "access.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(help_text="What is wrong and what it should say.")
    requested_at = models.DateTimeField()
    accepted = models.BooleanField(null=True, blank=True)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]

    def __str__(self) -> str:
        return f"correction to {self.document} of meeting {self.meeting_id}"


class Registration(BaseModel):
    """A period on the child protection register. History is the rows; none is deleted."""

    class EndReason(models.TextChoices):
        REVIEW_CONFERENCE = "review_conference_decision", _("Review conference decision")
        TURNED_18 = "turned_18", _("The child turned 18")
        DIED = "died", _("The child died")
        LEFT_UK = "moved_permanently_abroad", _("The child left the UK permanently")
        TRANSFERRED = "transferred_to_other_authority", _("Transferred to another local authority")

    child = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="registrations")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="registrations")
    local_authority = models.ForeignKey("access.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    registered_on = models.DateField()
    categories = models.JSONField()
    conference = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="+")
    reasons = models.TextField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, choices=EndReason.choices, blank=True)
    end_meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    end_explanation = models.TextField(blank=True)
    eligible_needs = models.TextField(blank=True, help_text="The child's eligible care and support needs after.")
    contingency = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["child"], condition=Q(ended_on__isnull=True), name="one_current_registration"
            )
        ]
        ordering = ["registered_on", "pk"]

    @property
    def category_labels(self) -> list[str]:
        return category_labels(self.categories)

    def __str__(self) -> str:
        return f"registered {self.registered_on} ({','.join(self.categories)})"


class Visit(BaseModel):
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="visits")
    visited_on = models.DateField()
    seen = models.BooleanField()
    seen_alone = models.BooleanField()
    at_home = models.BooleanField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-visited_on", "-pk"]

    def __str__(self) -> str:
        return f"visit {self.visited_on}"


class DueKind(models.TextChoices):
    STRATEGY_DECISION = "strategy", _("Strategy discussion")
    ICPC = "icpc", _("Initial child protection conference")
    DECISIONS_SUMMARY = "decisions_summary", _("Outline plan and decisions circulated")
    FULL_RECORD = "full_record", _("Full conference record circulated")
    CORE_GROUP_FIRST = "core_group_first", _("First core group")
    CORE_GROUP_NEXT = "core_group_next", _("Next core group")
    RCPC_FIRST = "rcpc_first", _("First review conference")
    RCPC_NEXT = "rcpc_next", _("Next review conference")
    TRANSFER = "transfer_conference", _("Transfer conference")
    AGENCY_REPORT = "agency_report", _("Agency report for conference")
    VISIT_ALONE = "visit_alone", _("Visit: child seen alone")
    VISIT_HOME = "visit_home", _("Visit: child seen at home")
    ACTION = "plan_action", _("Plan action")


class Deadline(models.Model):
    """One statutory date: when it started, when it is due, and when (or whether) it was met.

    Kept after it is met so the board can report timeliness from the same rows.
    """

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=24, choices=DueKind.choices)
    key = models.CharField(max_length=80, help_text="Which one: e.g. the meeting or invitee it belongs to.")
    starts_on = models.DateField()
    due_on = models.DateField()
    rule = models.CharField(max_length=80, help_text="How the due date was reckoned, for the record.")
    met_on = models.DateField(null=True, blank=True)
    cancelled_on = models.DateField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "kind", "key"],
                condition=Q(met_on__isnull=True, cancelled_on__isnull=True),
                name="one_open_deadline_per_key",
            )
        ]
        indexes = [
            models.Index(
                fields=["due_on"],
                condition=Q(met_on__isnull=True, cancelled_on__isnull=True),
                name="deadline_open_due_idx",
            )
        ]
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_on}"

    @property
    def is_open(self) -> bool:
        return self.met_on is None and self.cancelled_on is None

    @property
    def on_time(self) -> bool | None:
        return None if self.met_on is None else self.met_on <= self.due_on
