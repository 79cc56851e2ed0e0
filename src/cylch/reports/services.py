"""Writes for the front door: receive a report, decide it, feed back, and keep the clocks.

Each function validates, writes, puts events on the spine and audits in one transaction;
notifications go through the outbox in the same transaction, so none is lost or sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record, hold_recording
from cylch.access.models import LocalAuthority, Organisation, User
from cylch.access.roles import FRONT_DOOR_ROLES, OrganisationKind, Role
from cylch.core import taxonomy
from cylch.core.calendar import add_working_days, is_out_of_hours
from cylch.events.models import Source
from cylch.events.services import record_event, recording_together
from cylch.governance.approvals import hold
from cylch.governance.models import ApprovalKind, ApprovalRequest
from cylch.identity.households import household_at
from cylch.identity.models import Household, Person
from cylch.identity.names import fold
from cylch.identity.selectors import current_household, unique_exact_match
from cylch.identity.services import agency_record_upsert, household_add_member
from cylch.notify.services import notify_address, notify_user, on_day
from cylch.reports import reference as refs
from cylch.reports.models import BodyMapMark, Channel, Outcome, Report, ReportSubject, Status, SubjectRole
from cylch.reports.selectors import on_queue_of

MANAGER_ROLES = {Role.TEAM_MANAGER}
NATIONAL_FRONT_DOOR = "national-front-door"


@dataclass
class SubjectIn:
    """A child or adult in a report: either a person already known, or what the maker knows."""

    role: str = SubjectRole.CHILD
    person: Person | None = None
    given_name: str = ""
    family_name: str = ""
    date_of_birth: str = ""
    nhs_number: str = ""
    address_line: str = ""
    town: str = ""
    postcode: str = ""
    relationship_to_child: str = ""
    injuries: list[dict[str, Any]] = field(default_factory=list)


def national_front_door() -> Organisation:
    """Where reports go when nobody knows which local authority the child lives in."""
    org, _created = Organisation.objects.get_or_create(
        code=NATIONAL_FRONT_DOOR,
        defaults={
            "name_en": "All-Wales front door (address not known)",
            "name_cy": "Drws ffrynt Cymru gyfan (cyfeiriad heb ei wybod)",
            "kind": OrganisationKind.LA_CHILDRENS_SERVICES,
            "contact_role_en": "Duty team",
            "contact_role_cy": "Tîm dyletswydd",
        },
    )
    return org


def front_door_for(local_authority: LocalAuthority | None) -> Organisation:
    if local_authority is not None:
        org = (
            Organisation.objects.filter(kind=OrganisationKind.LA_CHILDRENS_SERVICES, local_authority=local_authority)
            .order_by("id")
            .first()
        )
        if org is not None:
            return org
    return national_front_door()


def _unique_reference() -> str:
    for _attempt in range(20):
        candidate = refs.new_reference()
        if not Report.objects.filter(reference=candidate).exists():
            return candidate
    raise RuntimeError("could not find a free report reference")  # 31**8 references: not in practice


def _validate(
    *,
    children: list[SubjectIn],
    concern_codes: list[str],
    what_happened: str,
    maker_email: str,
    maker_phone: str,
    channel: str,
) -> None:
    errors: dict[str, list[str]] = {}
    if not children:
        errors["children"] = [str(_("Tell us about at least one child."))]
    for i, child in enumerate(children):
        if child.person is None and not (child.given_name or child.family_name):
            errors[f"children.{i}.given_name"] = [str(_("Give the child's name, or as much of it as you know."))]
    unknown = [c for c in concern_codes if taxonomy.get(c) is None]
    if unknown:
        errors["concern_codes"] = [f"Unknown concern code(s): {', '.join(unknown)}"]
    if not concern_codes:
        errors["concern_codes"] = [str(_("Choose at least one kind of concern."))]
    if not what_happened.strip():
        errors["what_happened"] = [str(_("Tell us what happened."))]
    if channel == Channel.PUBLIC and not (maker_email or maker_phone):
        errors["maker_email"] = [str(_("Give an email address or phone number so that we can tell you what happens."))]
    if errors:
        raise ValidationError(errors)


def report_submit(
    *,
    channel: str,
    children: list[SubjectIn],
    concern_codes: list[str],
    what_happened: str,
    language: str = "en",
    adults: list[SubjectIn] | None = None,
    maker: User | None = None,
    maker_organisation: Organisation | None = None,
    maker_name: str = "",
    maker_role: str = "",
    maker_email: str = "",
    maker_phone: str = "",
    when_happened: str = "",
    child_words: str = "",
    actions_taken: str = "",
    immediate_danger: bool = False,
    local_authority: LocalAuthority | None = None,
    external_id: str | None = None,
    received_at: datetime | None = None,
    ip_address: str = "",
    source_ip_hash: str = "",
) -> Report:
    """Receive a report: give it a reference, put it on every child's record, start its clocks,
    route it to a triage queue and acknowledge it to the report maker at once. A report sent
    again (the same organisation and ``external_id``) is the stored one, with ``already_stored``
    set, whether this look finds it or the insert of a resend racing its original does."""
    adults = adults or []
    if maker is not None:
        maker_organisation = maker_organisation or maker.organisation
        maker_name = maker_name or maker.get_full_name() or maker.username
        with translation.override("en"):
            maker_role = maker_role or str(maker.get_role_display())
        maker_email = maker_email or maker.email
        maker_phone = maker_phone or maker.phone
    _validate(
        children=children,
        concern_codes=concern_codes,
        what_happened=what_happened,
        maker_email=maker_email,
        maker_phone=maker_phone,
        channel=channel,
    )
    if external_id and maker_organisation is not None:
        existing = Report.objects.filter(maker_organisation=maker_organisation, external_id=external_id).first()
        if existing is not None:
            existing.already_stored = True
            return existing
    received_at = received_at or timezone.now()
    received_on = timezone.localtime(received_at).date()
    try:
        # The report's entries reach the rules together, once it is all stored (one evaluation
        # over the scopes they touch, as for an agency's batch), not one by one.
        with transaction.atomic(), recording_together():
            return _submit(
                channel=channel, children=children, concern_codes=concern_codes, what_happened=what_happened,
                language=language, adults=adults, maker=maker, maker_organisation=maker_organisation,
                maker_name=maker_name, maker_role=maker_role, maker_email=maker_email, maker_phone=maker_phone,
                when_happened=when_happened, child_words=child_words, actions_taken=actions_taken,
                immediate_danger=immediate_danger, local_authority=local_authority, external_id=external_id,
                received_at=received_at, received_on=received_on, ip_address=ip_address, source_ip_hash=source_ip_hash,
            )  # fmt: skip
    except IntegrityError:
        existing = Report.objects.filter(maker_organisation=maker_organisation, external_id=external_id).first()
        if existing is None:
            raise
        existing.already_stored = True  # a resend that raced its original: answered 200, not 201
        return existing


def _submit(
    *,
    channel,
    children,
    concern_codes,
    what_happened,
    language,
    adults,
    maker,
    maker_organisation,
    maker_name,
    maker_role,
    maker_email,
    maker_phone,
    when_happened,
    child_words,
    actions_taken,
    immediate_danger,
    local_authority,
    external_id,
    received_at,
    received_on,
    ip_address,
    source_ip_hash,
) -> Report:
    reference = _unique_reference()
    # Route by where the first child lives, if we know; else the authority the maker chose.
    la = local_authority
    for child in children:
        if child.person is not None:
            home = current_household(child.person)
            if home is not None and home.local_authority_id:
                la = home.local_authority
                break
    front_door = front_door_for(la)
    recording_org = maker_organisation or front_door
    report = Report.objects.create(
        reference=reference,
        channel=channel,
        language=language if language in {"en", "cy"} else "en",
        received_at=received_at,
        maker=maker,
        maker_organisation=maker_organisation,
        maker_name=maker_name,
        maker_role=maker_role,
        maker_email=maker_email,
        maker_phone=maker_phone,
        external_id=external_id or None,
        source_ip_hash=source_ip_hash,
        concern_codes=list(dict.fromkeys(concern_codes)),
        what_happened=what_happened,
        when_happened=when_happened,
        child_words=child_words,
        actions_taken=actions_taken,
        immediate_danger=immediate_danger,
        urgent=immediate_danger,
        out_of_hours=is_out_of_hours(received_at),
        local_authority=la,
        decision_due_at=timezone.make_aware(datetime.combine(add_working_days(received_on, 1), time(17, 0))),
        feedback_due_on=add_working_days(received_on, 7),
        created_by=maker,
    )
    households: dict[tuple[str, str], Household] = {}  # one per distinct address in the report
    for i, subject in enumerate([*children, *adults]):
        person, record = subject.person, None
        if person is None and subject.role == SubjectRole.CHILD and subject.date_of_birth and not subject.nhs_number:
            try:
                born = date.fromisoformat(subject.date_of_birth)
            except ValueError:
                born = None
            person = unique_exact_match(
                given_name=subject.given_name, family_name=subject.family_name, date_of_birth=born
            )
            if person is not None:
                record = agency_record_upsert(
                    organisation=recording_org, local_id=f"{reference}-{i + 1}", data={"given_name": subject.given_name,
                    "family_name": subject.family_name, "date_of_birth": subject.date_of_birth}, actor=maker, audit=False, link_to=person,
                ).record  # fmt: skip
        if person is None:
            data = {
                "given_name": subject.given_name, "family_name": subject.family_name,
                "date_of_birth": subject.date_of_birth, "nhs_number": subject.nhs_number,
                "address_line": subject.address_line, "town": subject.town, "postcode": subject.postcode,
            }  # fmt: skip
            try:
                result = agency_record_upsert(
                    organisation=recording_org, local_id=f"{reference}-{i + 1}", data=data, actor=maker, audit=False
                )
            except ValidationError as exc:
                prefix = "children" if subject.role == SubjectRole.CHILD else "adults"
                index = i if subject.role == SubjectRole.CHILD else i - len(children)
                raise ValidationError({f"{prefix}.{index}.{k}": v for k, v in exc.message_dict.items()}) from None
            person, record = result.person, result.record
            if subject.address_line and current_household(person) is None:
                where = (fold(subject.address_line), "".join(subject.postcode.upper().split()))
                if where not in households:
                    households[where], _new = household_at(
                        address_line=subject.address_line,
                        town=subject.town,
                        postcode=subject.postcode,
                        local_authority=la,
                        actor=maker,
                    )
                household_add_member(household=households[where], person=person, actor=maker)
        rs = ReportSubject.objects.create(
            report=report, role=subject.role, person=person, agency_record=record,
            relationship_to_child=subject.relationship_to_child,
            given_name=subject.given_name or person.given_name, family_name=subject.family_name or person.family_name,
        )  # fmt: skip
        for mark in subject.injuries:
            BodyMapMark.objects.create(report=report, subject=rs, **mark)
        if subject.role == SubjectRole.CHILD:
            _record_on_child(report, person, record, recording_org, maker, concern_codes)
    audit_record(
        action="write",
        actor=maker,
        actor_label="" if maker else "report form (public)",
        organisation_code=recording_org.code,
        object_type="report",
        object_id=reference,
        purpose="report received",
        ip_address=ip_address,
        detail={"children": len(children), "urgent": report.urgent, "queue": la.code if la else "national"},
    )
    _acknowledge(report)
    return report


def _record_on_child(
    report: Report, person: Person, record, org: Organisation, maker: User | None, concern_codes: list[str]
) -> None:
    common = {"organisation": org, "person": person, "agency_record": record, "recorded_by": maker,
              "recorder_name": report.maker_name, "recorder_role": report.maker_role,
              "recorder_contact": report.maker_email or report.maker_phone, "source": Source.PORTAL, "audit": False}  # fmt: skip
    maker_kind = org.kind if report.channel != Channel.PUBLIC else "member_of_public"
    details = {"channel": "online_portal" if report.channel != Channel.API else "email", "language": report.language}
    received_code = taxonomy.get("process.report.received")
    if "report_maker_kind" in (received_code.details_schema.get("properties") or {}):
        allowed = received_code.details_schema["properties"]["report_maker_kind"].get("enum") or []
        if maker_kind in allowed:
            details["report_maker_kind"] = maker_kind
    record_event(code="process.report.received", occurred_at=report.received_at, summary=report.what_happened,
                 details=details, external_id=f"report:{report.reference}:{person.public_id}:received", **common)  # fmt: skip
    for code in dict.fromkeys(concern_codes):
        event_code = taxonomy.get(code)
        if event_code.subject == "adult":
            continue
        record_event(code=code, occurred_at=report.received_at, summary=report.what_happened,
                     external_id=f"report:{report.reference}:{person.public_id}:{code}", **common)  # fmt: skip
    if report.child_words.strip():
        record_event(code="voice.lived_experience", occurred_at=report.received_at, summary=report.child_words,
                     external_id=f"report:{report.reference}:{person.public_id}:voice", **common)  # fmt: skip


def tell_report_maker(report: Report, *, kind: str, subject, body, context: dict[str, Any]) -> str | None:
    """In the app if the maker has an account, else by email. Returns how ("portal" or "email"),
    or None when Cylch has no way to reach them (a phone number only: someone must call)."""
    url = reverse("reports:find") + f"?reference={report.reference}"
    key = f"report:{report.reference}:{kind}"
    if report.maker is not None:
        notify_user(
            recipient=report.maker, kind=kind, subject=subject, body=body, url=url, dedupe_key=key, context=context
        )
        return "portal"
    if report.maker_email:
        notify_address(
            to=report.maker_email, subject=subject, body=body, dedupe_key=key, context=context, language=report.language
        )
        return "email"
    return None


def tell_front_door(
    report: Report, *, roles: set[str], kind: str, key: str, subject, body, context: dict[str, Any]
) -> int:
    """Notify each front-door colleague with one of ``roles`` on the report's queue, once per key."""
    from cylch.reports.selectors import front_door_staff

    url = reverse("reports:triage", args=[report.reference])
    told = 0
    for user in front_door_staff(report, roles):
        notify_user(
            recipient=user,
            kind=kind,
            url=url,
            dedupe_key=f"{key}:{user.pk}",
            subject=subject,
            body=body,
            context=context,
        )
        told += 1
    return told


def _acknowledge(report: Report) -> None:
    tell_report_maker(
        report,
        kind="report_acknowledged",
        subject=_("Report received: %(reference)s"),
        body=_(
            "Thank you. Your report about a child's safety has reached children's services.\n"
            "Reference: %(reference)s\n"
            "You will hear what happens by %(due)s. If you do not, contact the front door and quote your reference.\n"
            "If a child is in immediate danger, call 999."
        ),
        context={"reference": report.reference, "due": on_day(report.feedback_due_on)},
    )
    for subject in report.subjects.filter(role=SubjectRole.CHILD).select_related("person", "agency_record"):
        org = report.maker_organisation or front_door_for(report.local_authority)
        record_event(code="process.report.acknowledged", organisation=org, person=subject.person, agency_record=subject.agency_record,
                     occurred_at=timezone.now(), external_id=f"report:{report.reference}:{subject.person.public_id}:ack",
                     source=Source.SYSTEM, audit=False)  # fmt: skip


def check_may_decide(*, user: User, report: Report) -> None:
    """Only the front door of the authority whose queue it is (or the national queue's) decides."""
    if user.role not in FRONT_DOOR_ROLES or user.organisation is None:
        raise PermissionDenied(_("Only the front door can decide reports."))
    if not on_queue_of(user.organisation, report):
        raise PermissionDenied(_("This report is not on your queue."))


def report_decide(
    *,
    report: Report,
    user: User,
    outcome: str,
    rationale: str,
    support_offered: str = "",
    approval: ApprovalRequest | None = None,
) -> Report:
    """Record the front door's decision and tell the report maker the outcome and why.

    A decision that needs a manager's approval (no further action on a repeat report, by
    default: ``governance/approvals.yaml``) is held instead: the report stays undecided, on
    the queue and untold, until a manager approves, which calls this again with ``approval``.
    """
    check_may_decide(user=user, report=report)
    errors: dict[str, list[str]] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = [str(_("Choose an outcome."))]
    if len(rationale.strip()) < 20:
        errors["rationale"] = [str(_("Give the reasons for the decision (at least 20 characters)."))]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        hold_recording()  # before the report's row: see cylch.access.audit.hold_recording
        report = Report.objects.select_for_update().get(pk=report.pk)
        if report.status == Status.DECIDED:
            raise ValidationError({"outcome": [str(_("This report has already been decided."))]})
        payload = {"outcome": outcome, "rationale": rationale.strip(), "support_offered": support_offered.strip()}
        if hold(ApprovalKind.REPORT_NO_FURTHER_ACTION, target=report, user=user, outcome=outcome, payload=payload,
                approval=approval):  # fmt: skip
            return report
        now = timezone.now()
        report.outcome, report.rationale, report.support_offered = outcome, rationale.strip(), support_offered.strip()
        report.decided_by, report.decided_at, report.status = user, now, Status.DECIDED
        method = tell_report_maker(
            report,
            kind="report_outcome",
            subject=_("Outcome of your report %(reference)s"),
            body=_(
                "Children's services have decided what to do about your report %(reference)s.\nOutcome: %(outcome)s\nWhy: %(rationale)s\n%(support)s"
            ),
            context={
                "reference": report.reference,
                "outcome": Outcome(outcome).label,  # lazy: in the language it is told in
                "rationale": report.rationale,
                "support": report.support_offered,
            },
        )
        report.save()
        decision_on_spine(report, user=user, when=now, key="decision")
        # Only a message actually sent counts; otherwise the report stays due for a phone call.
        if method:
            _feedback_given(report, user=user, method=method, when=now)
        audit_record(
            action="write",
            actor=user,
            object_type="report",
            object_id=report.reference,
            purpose="report decided",
            detail={"outcome": outcome},
        )
    return report


def decision_on_spine(report: Report, *, user: User, when, key: str) -> None:
    """Put the report's current decision on each child's spine (a first decision, or a changed one)."""
    for subject in report.subjects.filter(role=SubjectRole.CHILD).select_related("person"):
        record_event(code="process.report.decision", organisation=user.organisation, person=subject.person, occurred_at=when,
                     summary=report.rationale, details={"outcome": report.outcome, "rationale_recorded": True, "history_reviewed": True},
                     recorded_by=user, external_id=f"report:{report.reference}:{subject.person.public_id}:{key}", audit=False)  # fmt: skip
    if report.outcome == Outcome.ALREADY_OPEN:
        _pass_to_allocated_workers(report)


def _feedback_given(report: Report, *, user: User, method: str, when) -> None:
    """The report maker has the outcome: stop the clock and put it on each child's spine."""
    report.feedback_sent_at = when
    report.save(update_fields=["feedback_sent_at"])
    for subject in report.subjects.filter(role=SubjectRole.CHILD).select_related("person"):
        record_event(code="process.report.feedback_sent", organisation=user.organisation, person=subject.person, occurred_at=when,
                     details={"method": method, "language": report.language}, recorded_by=user,
                     external_id=f"report:{report.reference}:{subject.person.public_id}:feedback", audit=False)  # fmt: skip


def report_feedback_by_telephone(*, report: Report, user: User) -> Report:
    """Record that the front door phoned the report maker with the outcome (no email, no account)."""
    check_may_decide(user=user, report=report)
    with transaction.atomic():
        hold_recording()  # before the report's row: see cylch.access.audit.hold_recording
        report = Report.objects.select_for_update().get(pk=report.pk)
        if report.status != Status.DECIDED:
            raise ValidationError({"outcome": [str(_("Decide the report before telling the report maker."))]})
        if report.feedback_sent_at is not None:
            raise ValidationError({"outcome": [str(_("The report maker has already been told the outcome."))]})
        _feedback_given(report, user=user, method="telephone", when=timezone.now())
        audit_record(action="write", actor=user, object_type="report", object_id=report.reference,
                     purpose="report maker told the outcome by telephone")  # fmt: skip
    return report


def _pass_to_allocated_workers(report: Report) -> int:
    """An open case: the allocated worker (or lead coordinator) of each child gets the report."""
    from django.db.models import Q

    from cylch.identity.models import Allocation

    today = timezone.localdate()
    told = 0
    for subject in report.subjects.filter(role=SubjectRole.CHILD).select_related("person"):
        allocations = Allocation.objects.filter(person=subject.person, practitioner__isnull=False).filter(
            Q(to_date__isnull=True) | Q(to_date__gte=today)
        )
        for allocation in allocations.select_related("practitioner__organisation"):
            # The report is on the child's record as "report received"; only the front door that
            # may decide it can open its triage page, so anyone else is sent to the record.
            try:
                check_may_decide(user=allocation.practitioner, report=report)
                url = reverse("reports:triage", args=[report.reference])
            except PermissionDenied:
                url = reverse("identity:person", args=[subject.person.public_id])
            # The email names no child: the notices page does, for those who may see them.
            notify_user(
                recipient=allocation.practitioner, kind="report_passed_on", url=url,
                dedupe_key=f"report:{report.reference}:passed:{allocation.pk}",
                subject=_("A report passed to you: %(reference)s"),
                body=_("Report %(reference)s is about a child allocated to you. The front door has passed it to you to act on."),
                context={"reference": report.reference},
            )  # fmt: skip
            told += 1
    return told
