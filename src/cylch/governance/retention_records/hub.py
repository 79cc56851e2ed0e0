"""Records of the hub's own working that still hold personal data: sign-in attempts (a username
and an address, kept to slow down guessing) and the name-frequency tables of linkage models
trained on the hub (every given name and surname seen at least twice among its people).

Neither is a record of a child. Sign-in attempts are many and small: one audit entry each would
swamp the log, so a record of this class is a **day** of attempts, removed together with one
receipt. The audit log keeps its own entry of every sign-in by its own rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    Candidate,
    RecordClass,
    RemovalContext,
    Removed,
    count_rows,
    digest,
    local_day,
    serialised,
)

SIGN_IN_PREFIX = "sign-ins-"  # a day of attempts: ``sign-ins-2026-12-06``
MODEL_PREFIX = "linkage-model-"  # a model version has no public id: ``linkage-model-<pk>``


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """The start of ``day`` and of the next, in the hub's time zone."""
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), zone)
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), zone)


def _parse_day(record_id: str) -> date | None:
    if not str(record_id).startswith(SIGN_IN_PREFIX):
        return None
    try:
        return date.fromisoformat(str(record_id).removeprefix(SIGN_IN_PREFIX))
    except ValueError:
        return None


class SignInAttemptsClass(RecordClass):
    """The sign-in attempts of one day, successful or not: a username typed (which may be a
    mistyped one, or someone else's) and the address it came from. Today's are open and never
    due, whatever the period: the throttle on guessing reads them."""

    key = "sign_in_attempts"
    label = _("Sign-in attempts")
    action = "delete"
    triggers = frozenset({"recorded"})

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from django.db.models.functions import TruncDate

        from cylch.access.models import LoginAttempt

        today = timezone.localdate()
        days = (
            LoginAttempt.objects.annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
            .values_list("day", flat=True)
            .distinct()
            .order_by("day")
        )
        for day in days:
            key = f"{SIGN_IN_PREFIX}{day.isoformat()}"
            if key in removed:  # removed once; no attempt can be made on a past day since
                continue
            yield Candidate(key=key, pk=day, on=day, recorded=day, persons=frozenset(), age_persons=(),
                            open=day >= today)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.access.models import LoginAttempt

        day = _parse_day(record_id)
        if day is None:
            return False
        start, end = _day_bounds(day)
        return LoginAttempt.objects.filter(at__gte=start, at__lt=end).exists()

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.access.models import LoginAttempt

        day = candidate.pk
        if day >= timezone.localdate():
            return None
        start, end = _day_bounds(day)
        attempts = list(LoginAttempt.objects.select_for_update().filter(at__gte=start, at__lt=end).order_by("pk"))
        if not attempts:
            return None
        rows = serialised(attempts)
        LoginAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
        return Removed(count_rows(rows), digest(rows))


def _names_in(pk: int) -> bool:
    from cylch.identity.models import LinkageModelVersion

    text = LinkageModelVersion.objects.filter(pk=pk).values_list("model_json", flat=True).first() or "{}"
    return bool(json.loads(text).get("term_frequencies"))


class LinkageModelsClass(RecordClass):
    """A linkage model trained on the hub (``cylch link train``), no longer the active one. Its
    weights and thresholds stay, so a past decision can still be explained by its model; its
    name-frequency tables (every name seen at least twice among the hub's people, with how
    often) are erased. The active model is open and never due: online matching reads its names."""

    key = "linkage_models"
    label = _("Name frequencies of retired linkage models")
    action = "anonymise"
    triggers = frozenset({"recorded"})

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.identity.models import LinkageModelVersion

        for pk, created_at, active in LinkageModelVersion.objects.order_by("pk").values_list(
            "pk", "created_at", "active"
        ):
            key = f"{MODEL_PREFIX}{pk}"
            if key in removed:
                continue
            if not active and not _names_in(pk):  # nothing to erase (trained without names)
                continue
            made = local_day(created_at)
            yield Candidate(key=key, pk=pk, on=made, recorded=made, persons=frozenset(), age_persons=(), open=active)

    def exists(self, record_id: str) -> bool:
        from cylch.identity.models import LinkageModelVersion

        number = str(record_id).removeprefix(MODEL_PREFIX)
        return (
            str(record_id).startswith(MODEL_PREFIX)
            and number.isdigit()
            and LinkageModelVersion.objects.filter(pk=int(number)).exists()
        )

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.identity.models import LinkageModelVersion

        version = LinkageModelVersion.objects.select_for_update().filter(pk=candidate.pk).first()
        if version is None or version.active:
            return None
        data = json.loads(version.model_json)
        names = data.get("term_frequencies") or {}
        if not names:
            return None
        rows = [{"model": version._meta.label_lower, "pk": version.pk, "fields": {"term_frequencies": names}}]
        data["term_frequencies"] = {}
        version.model_json = json.dumps(data, indent=1, sort_keys=True)
        version.save(update_fields=["model_json"])
        return Removed({version._meta.label_lower: 1}, digest(rows))


USER_PREFIX = "user-"  # an account has no public id: ``user-<pk>``
DEPARTED = "departed-"  # the username an erased account is left with


class DepartedUsersClass(RecordClass):
    """A practitioner's account switched off (they left, or moved on). The row stays, because the
    records and audit entries they made point at it (and say, in their own words, who made them);
    what the account alone holds about the person (their name, email, phone, job title, the
    password's hash and their two-factor devices) is erased, leaving ``departed-<id>``, the
    organisation and the role. An account switched on is open and never due; one switched on
    again starts from nothing."""

    key = "departed_users"
    label = _("Accounts of people who have left")
    action = "anonymise"
    triggers = frozenset({"recorded"})

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.access.models import User

        for pk, active, off, username in User.objects.order_by("pk").values_list(
            "pk", "is_active", "deactivated_at", "username"
        ):
            key = f"{USER_PREFIX}{pk}"
            if key in removed or username.startswith(DEPARTED):
                continue
            day = local_day(off)  # None (switched off in bulk, unstamped): no rule applies, kept
            yield Candidate(key=key, pk=pk, on=day or timezone.localdate(), recorded=day, persons=frozenset(),
                            age_persons=(), open=bool(active))  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.access.models import User

        number = str(record_id).removeprefix(USER_PREFIX)
        return (
            str(record_id).startswith(USER_PREFIX) and number.isdigit() and User.objects.filter(pk=int(number)).exists()
        )

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from cylch.access.models import User

        user = User.objects.select_for_update().filter(pk=candidate.pk).first()
        if user is None or user.is_active or user.username.startswith(DEPARTED):
            return None  # gone, switched on again since the list was made, or erased already
        fields = ("username", "first_name", "last_name", "email", "job_title", "phone", "password")
        devices = list(TOTPDevice.objects.filter(user=user).order_by("pk"))
        rows = [{"model": user._meta.label_lower, "pk": user.pk, "fields": {f: getattr(user, f) for f in fields}}]
        rows += serialised(devices)
        user.username = f"{DEPARTED}{user.pk}"
        user.first_name = user.last_name = user.email = user.job_title = user.phone = ""
        user.is_safeguarding_lead = False
        user.set_unusable_password()
        user.save(update_fields=[*fields, "is_safeguarding_lead"])
        TOTPDevice.objects.filter(pk__in=[d.pk for d in devices]).delete()
        return Removed(count_rows(rows), digest(rows))
