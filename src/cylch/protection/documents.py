"""The process's documents as PDF: the conference record, the plan, and the decision letter to
a parent, in English, in Welsh, or both (Welsh first, as the Welsh Language Standards expect).

Plain functions returning bytes: the views decide who may download and audit it. Each
language is rendered under its own ``translation.override``, so labels, dates and
organisation names all follow it; a bilingual document is the Welsh then the English, each
starting on a new page and each page carrying the watermark in its own language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cylch.access.models import User
from cylch.access.policy import Level
from cylch.access.roles import role_words
from cylch.access.selectors import PersonNotFound, Viewer, access_person
from cylch.chronology.exports import Watermark
from cylch.chronology.models import ChildStory
from cylch.identity.selectors import current_household
from cylch.protection.models import (
    CATEGORY_CHOICES,
    Decision,
    DueKind,
    Invitee,
    InviteeKind,
    Meeting,
    MeetingKind,
    Plan,
    Registration,
)

LANGUAGES = ("en", "cy", "both")
CONTENT_TYPE = "application/pdf"
TEMPLATES = "protection/documents"

CATEGORY_LABELS = dict(CATEGORY_CHOICES)
# What each category means, in words a parent reads once and understands.
CATEGORY_PLAIN = {
    "physical": gettext_lazy("Physical abuse: %(child)s has been hurt, or could be hurt, on their body."),
    "emotional": gettext_lazy(
        "Emotional abuse: things that are said or done at home could harm how %(child)s feels and grows up."
    ),
    "sexual": gettext_lazy("Sexual abuse: %(child)s could be harmed in a sexual way."),
    "financial": gettext_lazy("Financial abuse: %(child)s's money or belongings could be taken or misused."),
    "neglect": gettext_lazy(
        "Neglect: %(child)s may not be getting the care they need every day, like food, warmth, "
        "safety or seeing a doctor."
    ),
}
LANGUAGE_NAMES = {"en": gettext_lazy("English"), "cy": gettext_lazy("Welsh")}
CONFERENCES = (MeetingKind.INITIAL, MeetingKind.REVIEW, MeetingKind.TRANSFER)


def languages(language: str) -> list[str]:
    """The languages to render, in order: bilingual is Welsh first."""
    if language == "both":
        return ["cy", "en"]
    if language in ("en", "cy"):
        return [language]
    raise ValueError(f"unknown document language {language!r}")


def _pdf(template: str, *, user: User, language: str, context) -> bytes:
    """Render ``template`` once per language, under that language, into one PDF."""
    from weasyprint import HTML

    at = timezone.now()
    mark = Watermark(user, at)
    sections, titles = [], []
    for lang in languages(language):
        with translation.override(lang):
            ctx = context(lang)
            ctx |= {"lang": lang, "watermark": mark.text(), "today": timezone.localdate()}
            sections.append({"lang": lang, "html": render_to_string(f"{TEMPLATES}/{template}", ctx)})
            titles.append(str(ctx["title"]))
    who = user.get_full_name() or user.username
    stamp = (
        f"{who} · {user.organisation.code if user.organisation_id else ''} · {timezone.localtime(at):%d/%m/%Y %H:%M}"
    )
    html = render_to_string(
        f"{TEMPLATES}/base.html",
        {"sections": sections, "title": " / ".join(titles), "lang": sections[0]["lang"], "stamp": stamp},
    )
    return HTML(string=html).write_pdf()


# --- shared pieces ---------------------------------------------------------------------------


def _name(person) -> str:
    return person.display_name if person is not None else ""


def _org_name(org, lang: str) -> str:
    return org.name(lang) if org is not None else ""


def _authority_name(la, lang: str) -> str:
    if la is None:
        return ""
    return la.name_cy if lang == "cy" and la.name_cy else la.name_en


def _day(moment: datetime | date | None) -> date | None:
    if isinstance(moment, datetime):
        return timezone.localtime(moment).date()
    return moment


@dataclass(frozen=True)
class Contact:
    """Who a reader gets in touch with: the social worker, or the team."""

    name: str
    role: str
    organisation: str
    phone: str
    email: str


def contact_for(episode, lang: str) -> Contact:
    worker, org = episode.social_worker, episode.organisation
    phone = org.safeguarding_phone
    email = org.safeguarding_email
    if worker is not None:
        return Contact(
            name=worker.get_full_name() or worker.username,
            role=role_words(worker.job_title) or str(worker.get_role_display()),
            organisation=_org_name(org, lang),
            phone=worker.phone or phone,
            email=worker.email or email,
        )
    role = org.contact_role_cy if lang == "cy" and org.contact_role_cy else org.contact_role_en
    return Contact(name="", role=role, organisation=_org_name(org, lang), phone=phone, email=email)


def categories(codes: list[str], child: str = "") -> list[dict]:
    return [
        {"code": c, "label": str(CATEGORY_LABELS.get(c, c)), "plain": str(CATEGORY_PLAIN[c]) % {"child": child}}
        for c in codes
        if c in CATEGORY_LABELS
    ]


def next_conference(meeting: Meeting) -> Meeting | None:
    """The conference after this one: the next to be held, or the one that was."""
    return (
        meeting.episode.meetings.filter(kind__in=[MeetingKind.REVIEW, MeetingKind.TRANSFER], pk__gt=meeting.pk)
        .order_by("pk")
        .first()
    )


def next_core_group(meeting: Meeting) -> date | None:
    core = (
        meeting.episode.meetings.filter(kind=MeetingKind.CORE_GROUP, pk__gt=meeting.pk, held_at__isnull=True)
        .order_by("scheduled_for", "pk")
        .first()
    )
    if core is not None and core.scheduled_for:
        return _day(core.scheduled_for)
    deadline = meeting.episode.deadlines.filter(
        kind__in=[DueKind.CORE_GROUP_FIRST, DueKind.CORE_GROUP_NEXT], met_on__isnull=True, cancelled_on__isnull=True
    ).first()
    return deadline.due_on if deadline else None


def story_for(child, user: User) -> tuple[ChildStory | None, bool]:
    """The child's latest story and whether this reader may read it in full (it is the
    child's voice: the policy decides, as on the record page)."""
    story = ChildStory.objects.filter(child=child).select_related("organisation").order_by("-written_at").first()
    if story is None:
        return None, False
    try:
        access = access_person(Viewer.for_user(user), child.public_id)
    except PersonNotFound:
        return story, False
    return story, access.level_for(sensitivity="voice", organisation_id=story.organisation_id) == Level.CONTENT


# --- the conference record ---------------------------------------------------------------------


def meeting_record_pdf(meeting: Meeting, *, user: User, language: str) -> bytes:
    """The record of a held conference: who was there, what the agencies sent, the child's
    story, the decision with its categories and reasons, challenges, and what comes next."""
    episode, child = meeting.episode, meeting.episode.child
    invitees = list(meeting.invitees.select_related("organisation", "person").order_by("pk"))
    active = [i for i in invitees if i.removed_at is None]
    reports = [i for i in active if i.report_requested]
    challenges = list(meeting.challenges.select_related("organisation").order_by("at", "pk"))
    story, story_readable = story_for(child, user)
    nxt = next_conference(meeting)
    ended = Registration.objects.filter(end_meeting=meeting).first()
    registration = Registration.objects.filter(conference=meeting).first()

    def context(lang: str) -> dict:
        held_in = meeting.language
        if lang == held_in or not meeting.record_translated.strip():
            record, translated = meeting.record, False
        else:
            record, translated = meeting.record_translated, True
        return {
            "title": _("%(meeting)s: %(child)s") % {"meeting": meeting.get_kind_display(), "child": _name(child)},
            "meeting": meeting,
            "child": child,
            "kind": meeting.get_kind_display(),
            "is_review": meeting.kind == MeetingKind.REVIEW,
            "held_on": meeting.held_at,
            "format": meeting.get_format_display() if meeting.format else "",
            "held_in": LANGUAGE_NAMES.get(held_in, held_in),
            "chair": meeting.chair,
            "authority": _authority_name(episode.local_authority, lang),
            "organisation": _org_name(episode.organisation, lang),
            "attended": [_invitee_row(i, lang) for i in active if i.attended],
            "absent": [_invitee_row(i, lang) for i in active if not i.attended],
            "not_invited": [_invitee_row(i, lang) for i in invitees if i.removed_at is not None],
            "reports": [_invitee_row(i, lang) for i in reports],
            "story": story,
            "story_readable": story_readable,
            "story_org": _org_name(story.organisation, lang) if story else "",
            "decision": meeting.get_decision_display() if meeting.decision else "",
            "keeps": meeting.decision in (Decision.REGISTER, Decision.REMAIN),
            "categories": categories(meeting.categories),
            "record": record,
            "record_in": LANGUAGE_NAMES.get(held_in, held_in),
            "record_translated": translated,
            "record_other_language": lang != held_in and not translated,
            "registration": registration,
            "ended": ended,
            "challenges": challenges,
            "next": nxt,
            "next_on": _day(nxt.held_at or nxt.scheduled_for) if nxt else None,
        }

    return _pdf("record.html", user=user, language=language, context=context)


def _invitee_row(invitee: Invitee, lang: str) -> dict:
    organisation = _org_name(invitee.organisation, lang)
    return {
        "name": invitee.name or organisation,
        "organisation": organisation if invitee.name else "",
        "kind": invitee.get_kind_display(),
        "agency": invitee.kind == InviteeKind.AGENCY,
        "mandatory": invitee.mandatory,
        "removed_reason": invitee.removed_reason,
        "report_received_at": invitee.report_received_at,
        "report_shared_at": invitee.report_shared_with_parents_at,
        "report_due_on": invitee.report_due_on,
    }


# --- the plan --------------------------------------------------------------------------------


def plan_pdf(plan: Plan, *, user: User, language: str) -> bytes:
    """The plan as it stands: its version and date, the worries, what needs to change, what
    the child can do, the contingency, and every action with its owner and latest update."""
    episode, child = plan.episode, plan.episode.child
    actions = list(
        plan.actions.select_related("owner_organisation").prefetch_related("updates").order_by("due_on", "pk")
    )
    latest_version = plan.versions.order_by("-number").first()
    dated = latest_version.saved_at if latest_version else plan.modified_at

    def context(lang: str) -> dict:
        rows = []
        for action in actions:
            updates = list(action.updates.all())
            rows.append(
                {
                    "text": action.text,
                    "owner": _org_name(action.owner_organisation, lang),
                    "owner_name": action.owner_name,
                    "due_on": action.due_on,
                    "status": action.get_status_display(),
                    "latest": updates[-1] if updates else None,
                }
            )
        return {
            "title": _("%(plan)s: %(child)s") % {"plan": plan.get_kind_display(), "child": _name(child)},
            "plan": plan,
            "child": child,
            "kind": plan.get_kind_display(),
            "status": plan.get_status_display(),
            "dated": dated,
            "authority": _authority_name(episode.local_authority, lang),
            "organisation": _org_name(episode.organisation, lang),
            "contact": contact_for(episode, lang),
            "actions": rows,
        }

    return _pdf("plan.html", user=user, language=language, context=context)


# --- the decision letter to a parent -------------------------------------------------------------


def decision_letter_pdf(meeting: Meeting, invitee: Invitee, *, user: User, language: str) -> bytes:
    """A short letter in plain words to a parent: what the conference decided and why, what
    the register means, what happens next, who to ring, and how to put things right."""
    episode, child = meeting.episode, meeting.episode.child
    home = current_household(invitee.person) if invitee.person_id else None
    nxt = next_conference(meeting)
    ended = Registration.objects.filter(end_meeting=meeting).first()
    core_on = next_core_group(meeting)
    first_name = child.given_name or _name(child)

    def context(lang: str) -> dict:
        decision = meeting.decision
        return {
            "title": _("Letter about the child protection conference for %(child)s") % {"child": _name(child)},
            "meeting": meeting,
            "invitee": invitee,
            "dear": invitee.name or _name(invitee.person),
            "home": home,
            "child": first_name,
            "child_full": _name(child),
            "kind": meeting.get_kind_display(),
            "held_on": meeting.held_at,
            "attended": bool(invitee.attended),
            "registered": decision == Decision.REGISTER,
            "remains": decision == Decision.REMAIN,
            "not_registered": decision == Decision.NOT_REGISTER,
            "removed": decision == Decision.DEREGISTER,
            "categories": categories(meeting.categories, first_name),
            "reasons": meeting.reasons,
            "ended": ended,
            "core_on": core_on,
            "next_on": _day(nxt.scheduled_for) if nxt and not nxt.is_held and nxt.scheduled_for else None,
            "authority": _authority_name(episode.local_authority, lang),
            "organisation": _org_name(episode.organisation, lang),
            "contact": contact_for(episode, lang),
            "chair": meeting.chair,
        }

    return _pdf("letter.html", user=user, language=language, context=context)
