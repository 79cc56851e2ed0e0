"""Places, organisations, people who sign in, API tokens, break-glass grants and the audit log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.roles import OrganisationKind, Role


class BoardArea(models.Model):
    """One of the six regional safeguarding board areas of Wales."""

    code = models.SlugField(max_length=32, unique=True)
    name_en = models.CharField(max_length=120)
    name_cy = models.CharField(max_length=120)

    class Meta:
        ordering = ["name_en"]

    def __str__(self) -> str:
        return self.name_en


class LocalAuthority(models.Model):
    """One of the 22 local authorities of Wales."""

    code = models.SlugField(max_length=32, unique=True)
    name_en = models.CharField(max_length=120)
    name_cy = models.CharField(max_length=120)
    board_area = models.ForeignKey(BoardArea, on_delete=models.PROTECT, related_name="local_authorities")

    class Meta:
        ordering = ["name_en"]
        verbose_name_plural = "local authorities"

    def __str__(self) -> str:
        return self.name_en

    def name(self, language: str = "en") -> str:
        return self.name_cy if language == "cy" and self.name_cy else self.name_en


class Organisation(models.Model):
    """An agency or service that reports into Cylch or reads from it."""

    code = models.SlugField(max_length=64, unique=True)
    name_en = models.CharField(max_length=200)
    name_cy = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)
    local_authority = models.ForeignKey(
        LocalAuthority,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="organisations",
        help_text="The local authority the organisation sits in. Empty only for national bodies.",
    )
    board_area = models.ForeignKey(
        BoardArea,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="organisations",
        help_text="Set from the local authority; a health board or police force names its lead area.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="For a health service, its health board; for a team, its organisation.",
    )
    safeguarding_email = models.EmailField(blank=True)
    safeguarding_phone = models.CharField(max_length=40, blank=True)
    contact_role_en = models.CharField(
        max_length=120, blank=True, help_text="Whom to contact about its records, e.g. 'Safeguarding lead'."
    )
    contact_role_cy = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["name_en"]

    def __str__(self) -> str:
        return self.name_en

    def name(self, language: str = "en") -> str:
        return self.name_cy if language == "cy" and self.name_cy else self.name_en


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    WELSH = "cy", "Cymraeg"


class User(AbstractUser):
    """A person who signs in. Always belongs to one organisation and has one role there."""

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=40, choices=Role.choices, default=Role.SOCIAL_WORKER)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    job_title = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    is_safeguarding_lead = models.BooleanField(
        default=False,
        help_text="Receives break-glass notices and safeguarding queries for the organisation.",
    )
    is_demo = models.BooleanField(
        default=False, help_text="Demo accounts may sign in without two-factor authentication."
    )
    deactivated_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the account was switched off: the retention schedule's departed_users class counts from it.",
    )  # fmt: skip

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._was_active = user.__dict__.get("is_active")  # to see it switched off on save
        return user

    def save(self, *args, **kwargs):
        """Stamp the moment the account is switched off (and clear it if switched on again), however
        it is saved: the admin, a command, a test."""
        if self.is_active:
            stamp = None
        elif self.deactivated_at is None and getattr(self, "_was_active", True) is not False:
            stamp = timezone.now()
        else:
            stamp = self.deactivated_at
        if stamp != self.deactivated_at:
            self.deactivated_at = stamp
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "deactivated_at"}
        super().save(*args, **kwargs)
        self._was_active = self.is_active


class LoginAttempt(models.Model):
    """One sign-in attempt; recent failures throttle further attempts."""

    username = models.CharField(max_length=150, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["username", "at"]), models.Index(fields=["ip_address", "at"])]

    def __str__(self) -> str:
        return f"{self.username} at {self.at:%Y-%m-%d %H:%M} ({'ok' if self.succeeded else 'failed'})"


class ApiToken(models.Model):
    """A bearer token for one organisation's system. Only a hash of the secret is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organisation.code}: {self.name}"


class BreakGlass(models.Model):
    """Emergency access to one person's record by someone outside the child's circle."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants")
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="break_glass_grants")
    reason = models.TextField()
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "person", "expires_at"])]
        verbose_name_plural = "break-glass grants"

    def __str__(self) -> str:
        return f"break-glass by {self.user_id} on {self.person_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class AuditAction(models.TextChoices):
    READ = "read", _("Read")
    SEARCH = "search", _("Search")
    WRITE = "write", _("Write")
    EXPORT = "export", _("Export")
    SIGN_IN = "sign_in", _("Sign in")
    SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
    SIGN_OUT = "sign_out", _("Sign out")
    BREAK_GLASS = "break_glass", _("Break-glass")
    ADMIN = "admin", _("Administration")


class AuditEntry(models.Model):
    """One link in the hash chain. Never updated; verified by ``cylch audit verify``.

    ``payload_digest`` is the SHA-256 of the entry's content fields and ``entry_hash`` chains
    it to the previous entry. Keeping the digest separate lets a retention run erase an
    entry's content (setting ``redacted_at``) while the chain still verifies.
    """

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who, as it stood at the time.")
    organisation_code = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=200, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    payload_digest = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"]), models.Index(fields=["at"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id} by {self.actor_label}"


class AuditHead(models.Model):
    """The single row that serialises appends and remembers the last entry (so a removed
    tail is detected, not just a removed middle)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head at #{self.last_seq}"
