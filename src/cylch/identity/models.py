"""The person index: what each agency holds, the resolved person, households and families.

An ``AgencyRecord`` is what one organisation told us, kept as sent. A ``Person`` is our
resolved view of the individual. ``PersonLink`` joins the two and records how (deterministic
on a trusted identifier, probabilistic with a score, or by a person), so a link can be
undone without losing the events recorded against the agency record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Not known")


class PersonQuerySet(models.QuerySet):
    def current(self):
        """People who have not been merged into someone else: the ones to find and link to."""
        return self.filter(merged_into__isnull=True)


class Person(BaseModel):
    """A resolved individual. Demographics are the best current view across agency records."""

    objects = PersonQuerySet.as_manager()

    given_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    other_names = models.CharField(max_length=200, blank=True, help_text="Previous or alternative names.")
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    nhs_number = models.CharField(max_length=10, blank=True, db_index=True)
    upn = models.CharField("unique pupil number", max_length=13, blank=True, db_index=True)
    is_unborn = models.BooleanField(default=False, help_text="An unborn baby. Requires an expected date of delivery.")
    expected_date_of_delivery = models.DateField(null=True, blank=True)
    date_of_death = models.DateField(null=True, blank=True)
    search_name = models.CharField(
        max_length=220, blank=True, db_index=True, help_text="Normalised names for fuzzy search."
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
        help_text="Set when this person was found to be the same as another: links to them live on.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["family_name", "given_name"]),
            models.Index(fields=["date_of_birth"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_unborn=False) | Q(expected_date_of_delivery__isnull=False),
                name="person_unborn_has_edd",
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    def live(self) -> Person:
        """This person, or the person they were merged into (following a chain of merges)."""
        person, seen = self, set()
        while person.merged_into_id and person.pk not in seen:
            seen.add(person.pk)
            person = Person.objects.get(pk=person.merged_into_id)
        return person

    @property
    def is_adult(self) -> bool:
        """18 or over by a known date of birth, today or at death: a child who died is a child
        (their review reads their record). An unknown age is not taken as adult: a child's
        record must not lose its child's pages for want of a birthday."""
        from cylch.identity.selectors import age_on  # the one reckoning of age (selectors import models)

        if self.is_unborn or self.date_of_birth is None:
            return False
        on = timezone.localdate()
        if self.date_of_death is not None:
            on = min(on, self.date_of_death)
        return age_on(self.date_of_birth, on) >= 18

    @property
    def display_name(self) -> str:
        name = f"{self.given_name} {self.family_name}".strip()
        if self.is_unborn and not self.given_name:
            return str(_("Unborn baby %(family)s") % {"family": self.family_name}).strip()
        return name or str(_("Name not known"))


class AgencyRecordQuerySet(models.QuerySet):
    """Bulk writes keep the stored linkage keys too (``bulk_create`` does not call ``save``)."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.fill_match_keys()
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.fill_match_keys()
        return super().bulk_update(objs, [*fields, *(self.model.match_keys_of(fields) - set(fields))], *args, **kwargs)


class AgencyRecord(BaseModel):
    """What one organisation holds about one individual, as the organisation sent it."""

    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="agency_records")
    local_id = models.CharField(max_length=64, help_text="The organisation's own identifier.")
    given_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    other_names = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    address_line = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    nhs_number = models.CharField(max_length=10, blank=True, db_index=True)
    upn = models.CharField("unique pupil number", max_length=13, blank=True, db_index=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Other identifiers the agency holds.")
    expected_date_of_delivery = models.DateField(null=True, blank=True)
    # The prepared linkage columns the model's blocking rules read, kept with the record so the
    # database answers every rule of online matching itself (linkage/online.py). Derived from the
    # fields beside them whenever the record is saved or bulk-created (MATCH_KEYS).
    surname_key = models.CharField(
        max_length=100, blank=True, help_text="Folded surname, for finding match candidates online."
    )
    given_canon = models.CharField(
        max_length=100, blank=True, help_text="Canonical form of the first given name (Dai, David: dafydd)."
    )
    postcode_key = models.CharField(max_length=20, blank=True, help_text="Postcode in capitals without spaces.")
    address_key = models.CharField(max_length=200, blank=True, help_text="Folded street address.")

    objects = AgencyRecordQuerySet.as_manager()

    # Stored key -> (the prepared column it holds, the field it is made from, that field's
    # name for ``features.prepare``).
    MATCH_KEYS = {
        "surname_key": ("surname", "family_name", "surname"),
        "given_canon": ("given_canon", "given_name", "given_name"),
        "postcode_key": ("postcode", "postcode", "postcode"),
        "address_key": ("address", "address_line", "address"),
    }

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "local_id"], name="agency_record_org_local_id")]
        indexes = [
            # Online candidates (linkage/online.py): each blocking rule one index lookup.
            models.Index(fields=["date_of_birth", "given_canon"], name="agency_record_dob_given"),
            models.Index(fields=["postcode_key", "given_canon"], name="agency_record_postcode_given"),
            models.Index(fields=["address_key", "given_canon"], name="agency_record_address_given"),
            models.Index(fields=["surname_key", "date_of_birth"]),
        ]

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is None:
            self.fill_match_keys()
        elif keys := self.match_keys_of(update_fields):
            # Only when a field they come from is written: a save of other fields leaves them be
            # (and reads no deferred field to make them).
            self.fill_match_keys()
            kwargs["update_fields"] = {*update_fields, *keys}
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.organisation.code}:{self.local_id}"

    def fill_match_keys(self) -> None:
        """Set the stored linkage keys from the fields they are made from."""
        for key, value in match_keys(self).items():
            setattr(self, key, value)

    @classmethod
    def match_keys_of(cls, fields) -> set[str]:
        """The stored keys made from any of ``fields``, or named in them (to write with them)."""
        return {key for key, (_column, source, _as) in cls.MATCH_KEYS.items() if source in fields or key in fields}


def match_keys(record) -> dict[str, str]:
    """The stored linkage keys of a record (an ``AgencyRecord``, historical or not): the columns
    ``features.prepare`` makes for its blocking rules, cut to their fields' lengths (a lookup
    cuts its value alike; online matching checks the whole value afterwards)."""
    from cylch.identity.linkage.features import prepare

    row = prepare("", {name: getattr(record, source) for _column, source, name in AgencyRecord.MATCH_KEYS.values()})
    return {
        key: (row[column] or "")[: type(record)._meta.get_field(key).max_length]
        for key, (column, _source, _name) in AgencyRecord.MATCH_KEYS.items()
    }


class LinkMethod(models.TextChoices):
    NEW_PERSON = "new_person", _("New person (no match)")
    NHS_NUMBER = "nhs_number", _("Same NHS number")
    UPN = "upn", _("Same unique pupil number")
    DEMOGRAPHIC = "demographic", _("Same name and date of birth, and nobody else has them")
    PROBABILISTIC = "probabilistic", _("Probabilistic match")
    CLERICAL = "clerical", _("Confirmed by a person")
    BIRTH = "birth", _("Unborn baby born")


class PersonLink(models.Model):
    """Joins an agency record to a person. At most one link per record is active."""

    agency_record = models.ForeignKey(AgencyRecord, on_delete=models.CASCADE, related_name="links")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="links")
    method = models.CharField(max_length=20, choices=LinkMethod.choices)
    score = models.FloatField(null=True, blank=True, help_text="Match probability, for probabilistic links.")
    model_version = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undo_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency_record"], condition=Q(active=True), name="one_active_link_per_record"
            )
        ]
        indexes = [models.Index(fields=["person", "active"])]

    def __str__(self) -> str:
        return f"{self.agency_record_id} -> {self.person_id} ({self.method}{'' if self.active else ', undone'})"


class HouseholdQuerySet(models.QuerySet):
    def current(self):
        """Households not merged into another: the ones people are placed in and counted by."""
        return self.filter(merged_into__isnull=True)


class Household(BaseModel):
    """An address where people live together, within a local authority.

    Two rows found to be one home (``identity/households/merge.py``, ``household_merge``) stay two:
    entries are append-only and keep the household they were recorded at, so the merged one
    points to the one kept (``merged_into``) and readers of a home follow the pointer.
    """

    address_line = models.CharField(max_length=200)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True, db_index=True)
    uprn = models.CharField("unique property reference number", max_length=12, blank=True)
    local_authority = models.ForeignKey(
        "access.LocalAuthority", null=True, blank=True, on_delete=models.PROTECT, related_name="households"
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
        help_text="Set when this household was found to be the same home as another, which is never "
        "itself merged: its entries are read as that home's.",
    )
    merged_at = models.DateTimeField(null=True, blank=True, help_text="Set with merged_into.")
    merge_detail = models.JSONField(
        default=dict,
        blank=True,
        help_text="Set with merged_into: the memberships the merge moved or joined, as they were, "
        "so that undoing it puts them back.",
    )
    not_same_as = models.ManyToManyField(
        "self",
        symmetrical=True,
        blank=True,
        help_text="Households a reviewer said are other homes (or whose merge was undone): never "
        "offered as one home again.",
    )

    objects = HouseholdQuerySet.as_manager()

    def __str__(self) -> str:
        return ", ".join(p for p in [self.address_line, self.town, self.postcode] if p)

    def live(self) -> Household:
        """This household, or the one it was merged into (which is never merged itself)."""
        return self.merged_into if self.merged_into_id else self


class HouseholdMembership(models.Model):
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="memberships")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships")
    from_date = models.DateField(null=True, blank=True)
    to_date = models.DateField(null=True, blank=True, help_text="Empty while the person still lives here.")

    class Meta:
        indexes = [models.Index(fields=["person", "to_date"]), models.Index(fields=["household", "to_date"])]

    def __str__(self) -> str:
        return f"{self.person_id} at {self.household_id}"


class RelationshipKind(models.TextChoices):
    PARENT = "parent", _("Parent")
    STEP_PARENT = "step_parent", _("Step-parent")
    PARTNER_OF_PARENT = "partner_of_parent", _("Partner of a parent")
    SIBLING = "sibling", _("Sibling")
    HALF_SIBLING = "half_sibling", _("Half-sibling")
    GRANDPARENT = "grandparent", _("Grandparent")
    CARER = "carer", _("Carer")
    PARTNER = "partner", _("Partner")
    OTHER_SIGNIFICANT_ADULT = "other_significant_adult", _("Other significant adult")


class Relationship(models.Model):
    """``person`` is ``kind`` of ``relative``: e.g. person=Ceri, kind=parent, relative=Alys
    reads "Ceri is a parent of Alys". Sibling and partner links are stored in both directions."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="relationships_out")
    kind = models.CharField(max_length=30, choices=RelationshipKind.choices)
    relative = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="relationships_in")
    parental_responsibility = models.BooleanField(default=False)
    lives_with = models.BooleanField(default=False)
    from_date = models.DateField(null=True, blank=True)
    to_date = models.DateField(null=True, blank=True)
    source_organisation = models.ForeignKey(
        "access.Organisation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_in_error = models.BooleanField(
        default=False,
        help_text="Set by a reviewer when it was never true; the relationship is kept, ended (to_date), "
        "so the record of what an agency said survives.",
    )
    note = models.CharField(
        max_length=200,
        blank=True,
        help_text="What the kind alone does not say, e.g. birth mother, adoptive mother (set in review).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "kind", "relative"], name="relationship_unique"),
            models.CheckConstraint(condition=~Q(person=models.F("relative")), name="relationship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.kind} of {self.relative_id}"


class AllocationKind(models.TextChoices):
    ALLOCATED_SOCIAL_WORKER = "social_worker", _("Allocated social worker")
    LEAD_COORDINATOR = "lead_coordinator", _("Lead coordinator")
    NAMED_PRACTITIONER = "named_practitioner", _("Named practitioner")


class Allocation(BaseModel):
    """An organisation (and usually a named practitioner) allocated to work with a person."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="allocations")
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="allocations")
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="allocations"
    )
    kind = models.CharField(max_length=30, choices=AllocationKind.choices)
    from_date = models.DateField()
    to_date = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "organisation", "to_date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.organisation_id} for {self.person_id}"


class LinkageModelVersion(models.Model):
    """A trained linkage model, kept whole so any past decision can be explained by its model."""

    version = models.CharField(max_length=60, unique=True)
    model_json = models.TextField()
    active = models.BooleanField(default=False)
    records = models.PositiveIntegerField(default=0, help_text="Agency records it was trained on.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"linkage model {self.version}{' (active)' if self.active else ''}"


class ReviewReason(models.TextChoices):
    UNCERTAIN = "uncertain", _("The score is between the review and the automatic link thresholds")
    CONFLICT = (
        "conflict",
        _("A strong match, but joining them would give one person two different NHS or pupil numbers"),
    )


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("Waiting for a decision")
    SAME = "same", _("Same person")
    DIFFERENT = "different", _("Different people")


class MatchReview(models.Model):
    """Two agency records that might be one person, for a person to decide.

    Stored with the lower record id first, so each pair has one task. A decision binds every
    later batch run: "different" is never linked, "same" never split.
    """

    record_a = models.ForeignKey(AgencyRecord, on_delete=models.CASCADE, related_name="+")
    record_b = models.ForeignKey(AgencyRecord, on_delete=models.CASCADE, related_name="+")
    weight = models.FloatField(help_text="Splink match weight when the task was raised.")
    probability = models.FloatField()
    model_version = models.CharField(max_length=60)
    reason = models.CharField(max_length=20, choices=ReviewReason.choices)
    evidence = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="match_review_pair"),
            models.CheckConstraint(condition=Q(record_a__lt=models.F("record_b")), name="match_review_ordered"),
        ]
        indexes = [models.Index(fields=["status", "-weight"])]

    def __str__(self) -> str:
        return f"review {self.record_a_id}/{self.record_b_id} ({self.status})"


class ConflictDecision(models.TextChoices):
    CORRECTED = "corrected", _("Corrected: a relationship was wrong or has ended")
    ALL_RIGHT = "all_right", _("All of them are right")


class FamilyConflict(models.Model):
    """Relationships that cannot all be true (a child with three mothers), for a person to sort out.

    A reviewer's decision (``decision`` set, ``outcomes`` naming every relationship decided on)
    binds later runs: the same relationships never raise the same kind of conflict again.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="family_conflicts")
    kind = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True)
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="The reviewer's reason, or why the hub closed it (a merge).")
    decision = models.CharField(
        max_length=20,
        choices=ConflictDecision.choices,
        blank=True,
        help_text="Empty while open, and when closed by the hub rather than decided by a reviewer.",
    )
    outcomes = models.JSONField(
        default=list,
        blank=True,
        help_text="One entry per relationship decided on: its id, who, kind and what became of it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "kind"], condition=Q(resolved=False), name="one_open_family_conflict_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.person_id}"

    @property
    def description(self) -> str:
        if self.kind == "too_many_parents":
            return str(_("%(n)s people are recorded as a parent") % {"n": self.detail.get("parents", "?")})
        if self.kind == "parent_too_young":
            return str(_("a parent is recorded as less than 12 years older than the child"))
        return self.kind
