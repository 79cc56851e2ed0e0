"""Organisation kinds and practitioner roles. Plain enums, so the policy table can use them."""

from __future__ import annotations

from functools import cache

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganisationKind(models.TextChoices):
    LA_CHILDRENS_SERVICES = "la_childrens_services", _("Local authority children's services")
    HEALTH_BOARD = "health_board", _("Health board")
    GP_PRACTICE = "gp_practice", _("GP practice")
    MIDWIFERY = "midwifery", _("Midwifery service")
    HEALTH_VISITING = "health_visiting", _("Health visiting service")
    SCHOOL_NURSING = "school_nursing", _("School nursing service")
    EMERGENCY_DEPARTMENT = "emergency_department", _("Emergency department")
    HOSPITAL = "hospital", _("Hospital")
    CAMHS = "camhs", _("Child and adolescent mental health service")
    ADULT_MENTAL_HEALTH = "adult_mental_health", _("Adult mental health service")
    SUBSTANCE_MISUSE = "substance_misuse", _("Substance misuse service")
    SCHOOL = "school", _("School")
    POLICE = "police", _("Police force")
    HOUSING = "housing", _("Housing")
    THIRD_SECTOR = "third_sector", _("Third sector organisation")
    PROBATION = "probation", _("Probation service")
    SAFEGUARDING_BOARD = "safeguarding_board", _("Regional safeguarding board")
    NATIONAL_BOARD = "national_board", _("National Independent Safeguarding Board")


HEALTH_KINDS = frozenset(
    {
        OrganisationKind.HEALTH_BOARD,
        OrganisationKind.GP_PRACTICE,
        OrganisationKind.MIDWIFERY,
        OrganisationKind.HEALTH_VISITING,
        OrganisationKind.SCHOOL_NURSING,
        OrganisationKind.EMERGENCY_DEPARTMENT,
        OrganisationKind.HOSPITAL,
        OrganisationKind.CAMHS,
        OrganisationKind.ADULT_MENTAL_HEALTH,
        OrganisationKind.SUBSTANCE_MISUSE,
    }
)


class Role(models.TextChoices):
    HEALTH_VISITOR = "health-visitor", _("Health visitor")
    MIDWIFE = "midwife", _("Midwife")
    GP = "gp", _("GP")
    SCHOOL_NURSE = "school-nurse", _("School nurse")
    ED_CLINICIAN = "ed-clinician", _("Emergency department clinician")
    CAMHS_PRACTITIONER = "camhs-practitioner", _("CAMHS practitioner")
    ADULT_MENTAL_HEALTH_PRACTITIONER = (
        "adult-mental-health-practitioner",
        _("Adult mental health practitioner"),
    )
    SCHOOL_SAFEGUARDING_LEAD = "school-safeguarding-lead", _("School safeguarding lead")
    POLICE_PPN = "police-ppn", _("Police public protection officer")
    HOUSING_OFFICER = "housing-officer", _("Housing officer")
    THIRD_SECTOR_WORKER = "third-sector-worker", _("Third sector worker")
    FRONT_DOOR = "front-door", _("Front-door social worker")
    SOCIAL_WORKER = "social-worker", _("Social worker")
    TEAM_MANAGER = "team-manager", _("Team manager")
    CONFERENCE_CHAIR = "conference-chair", _("Conference chair")
    BOARD_ANALYST = "board-analyst", _("Safeguarding board analyst")
    REVIEW_PANEL = "review-panel", _("Review panel member")
    ADMIN = "admin", _("System administrator")
    SYSTEM = "system", _("Organisation system (API)")


# Roles whose work is about individual children. The others (analysts, review panels,
# administrators) see aggregates or run the system: a person's record shows them only that
# records exist. Reviews get case access through their own process in a later module.
CASEWORK_ROLES = frozenset(Role) - {Role.BOARD_ANALYST, Role.REVIEW_PANEL, Role.ADMIN}

# Roles that work a local authority's front door: triage, decide, answer challenges.
FRONT_DOOR_ROLES = frozenset({Role.FRONT_DOOR, Role.SOCIAL_WORKER, Role.TEAM_MANAGER})

# The organisation kind each role usually works in (used by the demo and by validation).
ROLE_ORGANISATION_KINDS: dict[str, frozenset[str]] = {
    Role.HEALTH_VISITOR: frozenset({OrganisationKind.HEALTH_VISITING}),
    Role.MIDWIFE: frozenset({OrganisationKind.MIDWIFERY}),
    Role.GP: frozenset({OrganisationKind.GP_PRACTICE}),
    Role.SCHOOL_NURSE: frozenset({OrganisationKind.SCHOOL_NURSING}),
    Role.ED_CLINICIAN: frozenset({OrganisationKind.EMERGENCY_DEPARTMENT, OrganisationKind.HOSPITAL}),
    Role.CAMHS_PRACTITIONER: frozenset({OrganisationKind.CAMHS}),
    Role.ADULT_MENTAL_HEALTH_PRACTITIONER: frozenset(
        {OrganisationKind.ADULT_MENTAL_HEALTH, OrganisationKind.SUBSTANCE_MISUSE}
    ),
    Role.SCHOOL_SAFEGUARDING_LEAD: frozenset({OrganisationKind.SCHOOL}),
    Role.POLICE_PPN: frozenset({OrganisationKind.POLICE}),
    Role.HOUSING_OFFICER: frozenset({OrganisationKind.HOUSING}),
    Role.THIRD_SECTOR_WORKER: frozenset({OrganisationKind.THIRD_SECTOR}),
    Role.FRONT_DOOR: frozenset({OrganisationKind.LA_CHILDRENS_SERVICES}),
    Role.SOCIAL_WORKER: frozenset({OrganisationKind.LA_CHILDRENS_SERVICES}),
    Role.TEAM_MANAGER: frozenset({OrganisationKind.LA_CHILDRENS_SERVICES}),
    Role.CONFERENCE_CHAIR: frozenset({OrganisationKind.LA_CHILDRENS_SERVICES}),
    Role.BOARD_ANALYST: frozenset({OrganisationKind.SAFEGUARDING_BOARD, OrganisationKind.NATIONAL_BOARD}),
    Role.REVIEW_PANEL: frozenset({OrganisationKind.SAFEGUARDING_BOARD, OrganisationKind.NATIONAL_BOARD}),
    Role.ADMIN: frozenset(OrganisationKind),
    Role.SYSTEM: frozenset(OrganisationKind),
}


@cache
def _role_names() -> dict[str, str]:
    """{a role's name in any language of the hub, folded: its value}."""
    from django.conf import settings
    from django.utils import translation

    names = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            names.update({str(role.label).casefold(): role.value for role in Role})
    return names


def role_words(title: str) -> str:
    """A job title as the reader reads it: one that is only a role's name ("Health visitor",
    as the demo's accounts and many records hold) in the language being written; any other
    title, the person's own words, as it was given."""
    value = _role_names().get((title or "").strip().casefold())
    return str(Role(value).label) if value else title
