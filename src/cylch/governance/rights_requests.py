"""The month to answer a person's request about their record (UK GDPR article 12(3)).

A team manager who answers requests (``rights.may_answer_requests``) logs each request when it
arrives; Cylch works out the day it must be answered by, shows the team's open requests by that
day, tells the team's managers five working days before it and again if it passes, and records
the answer. The month follows the ICO's reading: from the day a valid request is received to
the same date in the next month (the month's last day when there is no such date), moved to
the next working day when it falls on a weekend or a bank holiday. A complex request may be
extended once, by two further months, while the first month runs (the person must be told why
within it). Everything is audited; nothing here is on the child's chronology.
"""

from __future__ import annotations

import calendar as months
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.core.calendar import is_working_day, working_days_between
from cylch.governance.approvals import team_managers
from cylch.governance.models import RequesterRelationship, RightsRequest, RightsRequestKind
from cylch.governance.rights import may_answer_requests, person_for_rights
from cylch.notify.services import in_language, notify_address, notify_user, on_day

WARN_WORKING_DAYS = 5
WARN_HORIZON_DAYS = 14  # calendar days that surely hold five working days, bank holidays included
EXTENSION_MONTHS = 2
MIN_WORDS = 10  # characters of a reason or an answer
ANSWERED_SHOWN_DAYS = 90


def month_after(day: date, n: int = 1) -> date:
    """The same date ``n`` months on; the month's last day when it has no such date (31 January
    gives 28 or 29 February)."""
    years, index = divmod(day.month - 1 + n, 12)
    year, month = day.year + years, index + 1
    return date(year, month, min(day.day, months.monthrange(year, month)[1]))


def due_date(received: date, n: int = 1) -> date:
    """The day a request received on ``received`` must be answered by, ``n`` months on."""
    day = month_after(received, n)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def request_record(
    *,
    user: User,
    person_id,
    kind: str,
    requested_by_name: str,
    requester_relationship: str,
    received_on: date,
    details: str = "",
) -> RightsRequest:
    """Log a request about a person the user's authority is involved with; its day is set now."""
    access = person_for_rights(user, person_id)  # PersonNotFound for anyone else
    errors: dict[str, list] = {}
    if kind not in RightsRequestKind.values:
        errors["kind"] = [_("Choose what the person asked for")]
    if requester_relationship not in RequesterRelationship.values:
        errors["requester_relationship"] = [_("Choose who asked")]
    if not requested_by_name.strip():
        errors["requested_by_name"] = [_("Enter the name of the person who asked")]
    if received_on > timezone.localdate():
        errors["received_on"] = [_("The date the request was received must be today or in the past")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        request = RightsRequest.objects.create(
            person=access.person, organisation=user.organisation, kind=kind,
            requested_by_name=requested_by_name.strip(), requester_relationship=requester_relationship,
            received_on=received_on, due_on=due_date(received_on), details=details.strip(), recorded_by=user,
            created_by=user,
        )  # fmt: skip
        _audit(user, request, "rights request logged", received_on=received_on.isoformat(), kind=kind)
    return request


def _locked(user: User, public_id) -> RightsRequest:
    """The team's request, locked; ``DoesNotExist`` for anyone else's, as a page answers 404."""
    if not may_answer_requests(user):
        raise RightsRequest.DoesNotExist(public_id)
    try:
        return (
            RightsRequest.objects.select_for_update(of=("self",))
            .select_related("person")
            .get(public_id=public_id, organisation_id=user.organisation_id)
        )
    except RightsRequest.DoesNotExist:
        raise RightsRequest.DoesNotExist(public_id) from None


def request_for(user: User, public_id) -> RightsRequest:
    """One of the user's team's requests (``DoesNotExist`` for any other, or for anyone else)."""
    if not may_answer_requests(user):
        raise RightsRequest.DoesNotExist(public_id)
    return RightsRequest.objects.select_related("person", "recorded_by", "answered_by").get(
        public_id=public_id, organisation_id=user.organisation_id
    )


def request_extend(*, user: User, public_id, reason: str) -> RightsRequest:
    """Two more months for a complex request: once, while the first month runs, with the reason
    the person is told."""
    with transaction.atomic():
        request = _locked(user, public_id)
        if not request.is_open:
            raise ValidationError({"reason": [_("This request has been answered.")]})
        if request.extended_to is not None:
            raise ValidationError({"reason": [_("This request has already been extended once.")]})
        if timezone.localdate() > request.due_on:
            raise ValidationError(
                {"reason": [_("The month has passed: an extension must be made, and the person told, within it.")]}
            )
        if len(reason.strip()) < MIN_WORDS:
            raise ValidationError({"reason": [_("Say why the request needs longer (the person is told this)")]})
        request.extended_to = due_date(request.received_on, 1 + EXTENSION_MONTHS)
        request.extension_reason = reason.strip()
        request.warned_at = None  # the new day gets its own warning
        request.save(update_fields=["extended_to", "extension_reason", "warned_at", "modified_at"])
        _audit(user, request, "rights request extended", extended_to=request.extended_to.isoformat())
    return request


def request_answer(*, user: User, public_id, answered_on: date, answer: str) -> RightsRequest:
    """Record that the request was answered, when and how."""
    with transaction.atomic():
        request = _locked(user, public_id)
        errors: dict[str, list] = {}
        if not request.is_open:
            errors["answer"] = [_("This request has been answered.")]
        if answered_on > timezone.localdate():
            errors["answered_on"] = [_("The date it was answered must be today or in the past")]
        elif answered_on < request.received_on:
            errors["answered_on"] = [_("The date it was answered cannot be before the request was received")]
        if len(answer.strip()) < MIN_WORDS:
            errors["answer"] = [_("Say how the request was answered (what was sent, corrected or refused, and why)")]
        if errors:
            raise ValidationError(errors)
        request.answered_on, request.answer, request.answered_by = answered_on, answer.strip(), user
        request.save(update_fields=["answered_on", "answer", "answered_by", "modified_at"])
        _audit(
            user, request, "rights request answered",
            answered_on=answered_on.isoformat(), in_time=answered_on <= request.deadline,
        )  # fmt: skip
    return request


def _audit(user: User | None, request: RightsRequest, purpose: str, **detail) -> None:
    audit_record(
        action="write", actor=user, actor_label="" if user else "cylch rights requests", object_type="rights_request",
        object_id=request.public_id, purpose=purpose, detail={"person": str(request.person.public_id), **detail},
    )  # fmt: skip


def team_requests(user: User, *, today: date | None = None) -> tuple[list[RightsRequest], list[RightsRequest]]:
    """The user's team's open requests, the soonest due first, and those answered lately."""
    if not may_answer_requests(user):
        return [], []
    today = today or timezone.localdate()
    mine = RightsRequest.objects.filter(organisation_id=user.organisation_id).select_related("person")
    open_ = sorted(mine.filter(answered_on__isnull=True), key=lambda r: (r.deadline, r.pk))
    answered = list(
        mine.filter(answered_on__gte=today - timedelta(days=ANSWERED_SHOWN_DAYS)).order_by("-answered_on", "-pk")
    )
    return open_, answered


def person_requests(user: User, person) -> list[RightsRequest]:
    """The user's team's requests about this person, newest first."""
    if not may_answer_requests(user):
        return []
    return list(
        RightsRequest.objects.filter(organisation_id=user.organisation_id, person=person).order_by(
            "-received_on", "-pk"
        )
    )


def days_left(request: RightsRequest, today: date | None = None) -> int:
    """Working days from today to the day it is due (negative once it has passed)."""
    return working_days_between(today or timezone.localdate(), request.deadline)


# --- the clock ---------------------------------------------------------------------------------


def rights_requests_sweep(*, now: datetime | None = None) -> int:
    """Tell the team's managers when a request is five working days from its day, and when its
    day has passed: each once (a request extended afterwards is warned again for its new day)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    told = 0
    # Only those with something to say: a minute's round must not lock every open request. Five
    # working days always lie within WARN_HORIZON_DAYS calendar days (Christmas and Easter included).
    due = RightsRequest.objects.filter(answered_on__isnull=True).annotate(day=Coalesce("extended_to", "due_on"))
    candidates = due.filter(
        Q(overdue_told_at__isnull=True, day__lt=today)
        | Q(warned_at__isnull=True, day__gte=today, day__lte=today + timedelta(days=WARN_HORIZON_DAYS))
    )
    for pk in candidates.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            request = (
                RightsRequest.objects.select_for_update(of=("self",))
                .select_related("organisation", "person")
                .get(pk=pk)
            )
            if not request.is_open:
                continue
            if today > request.deadline and request.overdue_told_at is None:
                _tell(request, "overdue", now)
                request.overdue_told_at = now
                request.save(update_fields=["overdue_told_at"])
                told += 1
            elif (
                today <= request.deadline
                and request.warned_at is None
                and working_days_between(today, request.deadline) <= WARN_WORKING_DAYS
            ):
                _tell(request, "soon", now)
                request.warned_at = now
                request.save(update_fields=["warned_at"])
                told += 1
    return told


SUBJECTS = {
    "soon": _("A person's request is due by %(due)s"),
    "overdue": _("A person's request is overdue: it was due by %(due)s"),
}
BODIES = {
    "soon": _(
        "A request received on %(received)s (%(kind)s) must be answered by %(due)s. The law gives a month "
        "(article 12(3) of the UK GDPR). Answer it, or extend it with the reason if it is complex."
    ),
    "overdue": _(
        "A request received on %(received)s (%(kind)s) was due by %(due)s and has not been recorded as "
        "answered. Answer it now and tell the person why it is late; they may complain to the "
        "Information Commissioner."
    ),
}


def _tell(request: RightsRequest, what: str, now: datetime) -> None:
    url = reverse("governance:rights-request", args=[request.public_id])
    context = {"due": on_day(request.deadline), "received": on_day(request.received_on, weekday=False),
               "kind": in_language(lambda _language: request.get_kind_display())}  # fmt: skip
    managers = list(team_managers(request.organisation))
    for manager in managers:
        notify_user(
            recipient=manager, kind=f"rights_request_{what}", url=url, subject=SUBJECTS[what], body=BODIES[what],
            dedupe_key=f"rights:{request.public_id}:{what}:{request.deadline.isoformat()}:{manager.pk}",
            context=context,
        )  # fmt: skip
    if not managers and request.organisation.safeguarding_email:
        notify_address(
            to=request.organisation.safeguarding_email, url=url, subject=SUBJECTS[what], body=BODIES[what],
            dedupe_key=f"rights:{request.public_id}:{what}:{request.deadline.isoformat()}:org", context=context,
        )  # fmt: skip
    _audit(None, request, f"rights request {'overdue' if what == 'overdue' else 'due soon'}: told",
           managers=len(managers), due=request.deadline.isoformat())  # fmt: skip
