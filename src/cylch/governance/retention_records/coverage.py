"""Which class of the retention schedule removes each table of Cylch, or why none does.

A table that holds personal data and that no class removes is kept for ever without anyone
having decided so. So every model of every Cylch app is listed here, and a system check
(``cylch.governance.W003``) and ``tests/test_retention_coverage.py`` fail on one that is not:
adding a model means saying, here, which class takes its rows or why it needs none. Three
answers:

* ``Covered(class)``: the class removes or anonymises its rows (with the record they belong to);
* ``Kept(why)``: it holds no personal data of the people Cylch is about (reference data, the
  hub's configuration, the proof of a removal), or is kept on purpose, and why;
* ``NotYet(why)``: it holds personal data and no class removes it yet: a known gap, named in
  docs/governance.md ("Not yet"), never a silent one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Covered:
    record_class: str


@dataclass(frozen=True)
class Kept:
    why: str


@dataclass(frozen=True)
class NotYet:
    why: str


PERSON_INDEX = Covered("person_index")  # a person's entry goes once nothing else refers to them

PROTECTION = (
    "Episode", "Meeting", "Postponement", "Invitee", "Challenge", "Enquiry", "Assessment", "Contribution", "Plan",
    "PlanVersion", "PlanAction", "ActionUpdate", "Circulation", "Delivery", "Correction", "Registration", "Visit",
    "Deadline",
)  # fmt: skip

COVERAGE: dict[str, Covered | Kept | NotYet] = {
    # --- the hub itself ---------------------------------------------------------------------
    "core.WorkerHeartbeat": Kept("when each worker job last ran; no personal data"),
    "access.BoardArea": Kept("reference data: the safeguarding board areas"),
    "access.LocalAuthority": Kept("reference data: the local authorities"),
    "access.Organisation": Kept("reference data: the organisations using the hub"),
    # Switched off, never deleted (the records and audit entries they made point at them):
    # the account's own personal data is erased.
    "access.User": Covered("departed_users"),
    "access.LoginAttempt": Covered("sign_in_attempts"),
    "access.ApiToken": Kept("an organisation's system credentials (a hash); no personal data"),
    "access.BreakGlass": Covered("break_glass"),
    "access.AuditEntry": Covered("audit_log"),
    "access.AuditHead": Kept("the audit chain's head: a number and a hash"),
    # --- the person index ---------------------------------------------------------------------
    "identity.Person": PERSON_INDEX,
    "identity.AgencyRecord": PERSON_INDEX,
    "identity.PersonLink": PERSON_INDEX,
    "identity.Household": Covered("households"),  # and with its last member, by person_index
    "identity.HouseholdMembership": PERSON_INDEX,
    "identity.Relationship": PERSON_INDEX,
    "identity.Allocation": PERSON_INDEX,
    "identity.MatchReview": PERSON_INDEX,
    "identity.FamilyConflict": PERSON_INDEX,
    "identity.LinkageModelVersion": Covered("linkage_models"),
    # --- the spine and what hangs from it -------------------------------------------------------
    "events.Event": Covered("chronology"),  # and soft_concerns; a report's own entries go with it
    "events.ImportRun": Covered("import_runs"),
    "chronology.Significance": Covered("chronology"),
    "chronology.ChildStory": Covered("child_stories"),
    "governance.Rectification": Covered("chronology"),
    "notify.Notification": Covered("notifications"),
    "notify.OutboxMessage": Covered("emails"),
    # --- the front door --------------------------------------------------------------------------
    "reports.Report": Covered("reports"),
    "reports.ReportSubject": Covered("reports"),
    "reports.BodyMapMark": Covered("reports"),
    "reports.Attachment": Covered("reports"),
    "reports.Challenge": Covered("reports"),
    "reports.ChallengeStep": Covered("reports"),
    "governance.ApprovalRequest": Covered("reports"),  # and alerts; anonymised with protection
    # --- the rules ---------------------------------------------------------------------------
    "rules.Alert": Covered("alerts"),
    "rules.AlertEvidence": Covered("alerts"),
    "rules.AlertRecipient": Covered("alerts"),
    "rules.AlertStep": Covered("alerts"),
    "rules.LeadCoordinatorProposal": Covered("lead_proposals"),
    # --- child protection (anonymised: the statutory skeleton stays) ----------------------------
    **{f"protection.{name}": Covered("protection") for name in PROTECTION},
    # --- reviews (anonymised: the board's learning stays) -----------------------------------------
    **{
        f"reviews.{name}": Covered("reviews")
        for name in ("Referral", "Review", "Milestone", "ReviewReport", "Recommendation", "RecommendationUpdate")
    },
    "reviews.CodedReview": Kept(
        "the national repository of published reviews, coded for analysis: anonymised for publication "
        "before they are added; the learning is kept"
    ),
    "reviews.ReviewCode": Kept("a code of a published review"),
    "reviews.CodeSuggestion": Kept("the coding assistant's suggestion for a published review"),
    "reviews.Assessment": Kept("a board's or authority's self-assessment; no personal data"),
    "reviews.AssessmentAnswer": Kept("an answer of a self-assessment; no personal data"),
    # --- governance itself -----------------------------------------------------------------------
    # A released hold is kept, with its reason, to explain why records outlived their period; one
    # on a person goes with the person's entry. One on a single record is small and names no one.
    "governance.LegalHold": PERSON_INDEX,
    # A request the person made goes with their entry, once answered; an open one keeps them.
    "governance.RightsRequest": PERSON_INDEX,
    "governance.RetentionRun": Kept("the proof of a run: counts and the schedule's digest, no content"),
    "governance.Removal": Kept("the proof of a removal: class, id, rule, counts and digest, no content"),
    "governance.Subscription": Kept("an organisation's webhook settings; no personal data"),
    "governance.Delivery": Covered("webhook_deliveries"),
    "governance.DeliveryAttempt": Covered("webhook_deliveries"),
}


def cylch_models() -> list[str]:
    """Every concrete model of a Cylch app, as ``app_label.ModelName``."""
    from django.apps import apps

    return sorted(
        m._meta.label
        for m in apps.get_models()
        if m.__module__.startswith("cylch.") and not m._meta.abstract and not m._meta.proxy
    )


def coverage_problems() -> list[str]:
    """Models nobody has placed, entries naming a model or class that does not exist, and
    classes no model names."""
    from cylch.governance.retention_records import CLASSES

    models = set(cylch_models())
    problems = [
        f"{label} has no retention answer: say in governance/retention_records/coverage.py which class "
        "removes its rows, or why none does"
        for label in sorted(models - set(COVERAGE))
    ]
    problems += [f"{label} is in the retention coverage but is not a model" for label in sorted(set(COVERAGE) - models)]
    named = {c.record_class for c in COVERAGE.values() if isinstance(c, Covered)}
    problems += [f"{label}: no retention class {c.record_class!r}" for label, c in sorted(COVERAGE.items())
                 if isinstance(c, Covered) and c.record_class not in CLASSES]  # fmt: skip
    problems += [f"retention class {key!r} removes no model in the coverage" for key in CLASSES if key not in named
                 and key not in {"soft_concerns"}]  # fmt: skip
    return problems
