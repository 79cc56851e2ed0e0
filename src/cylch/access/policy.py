"""Who may see what: one table, role x sensitivity class x relationship to the child.

The table below is the policy. It is parsed once at import, checked to be complete, and
rendered into ``docs/access.md``. Levels:

* ``C`` content: the whole entry, with its details.
* ``S`` summary: what kind of entry it is, when, and who recorded it (and how to reach
  them), but not its narrative or details.
* ``E`` existence: "withheld: recorded by <organisation> on <date>, contact <role>" so that
  nobody mistakes a filtered view for the whole truth.

Relationships (computed by ``cylch.access.selectors.relationships_to_persons``):

* ``allocated``: the viewer's organisation holds an open allocation for the child (allocated
  social worker, lead coordinator, named health visitor ...).
* ``involved``: the viewer's organisation knows the child or their household (holds an
  agency record for them, recorded an event about them) or is the children's services of
  the local authority the child lives in.
* ``none``: neither. Everyone sees only existence, unless they use break-glass.

Two overrides sit outside the table, both in :func:`access_level`: an organisation always
sees in full what it recorded itself, and an active break-glass grant counts as
``allocated``.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from cylch.access.roles import CASEWORK_ROLES, Role


class Sensitivity(models.TextChoices):
    PROCESS = "process", _("Statutory process")
    VOICE = "voice", _("Child's voice")
    HEALTH = "health", _("Health")
    EDUCATION = "education", _("Education")
    POLICE = "police", _("Police")
    HOUSING = "housing", _("Housing")
    SOCIAL_CARE = "social_care", _("Social care")
    SPECIAL = "special", _("Highly sensitive")


class Relationship(StrEnum):
    ALLOCATED = "allocated"
    INVOLVED = "involved"
    NONE = "none"


class Level(StrEnum):
    CONTENT = "C"
    SUMMARY = "S"
    EXISTENCE = "E"

    @property
    def rank(self) -> int:
        return {"E": 0, "S": 1, "C": 2}[self.value]


_CLASSES = "process voice health education police housing social_care special"

POLICY_TABLE = f"""
[allocated]
role                              | {_CLASSES}
health-visitor                    | C C C C C C C S
midwife                           | C C C C C C C S
gp                                | C C C C C C C S
school-nurse                      | C C C C C C C S
ed-clinician                      | C C C S S S S S
camhs-practitioner                | C C C C C S C S
adult-mental-health-practitioner  | C S C S S S S S
school-safeguarding-lead          | C C S C S S C E
police-ppn                        | C C S S C S C S
housing-officer                   | C S E E S C S E
third-sector-worker               | C C S S S S S E
front-door                        | C C C C C C C C
social-worker                     | C C C C C C C C
team-manager                      | C C C C C C C C
conference-chair                  | C C C C C C C C
board-analyst                     | E E E E E E E E
review-panel                      | E E E E E E E E
admin                             | E E E E E E E E
system                            | S E S S S S S E

[involved]
role                              | {_CLASSES}
health-visitor                    | C C C S S S S S
midwife                           | C C C S S S S S
gp                                | C C C S S S S S
school-nurse                      | C C C S S S S S
ed-clinician                      | C S C E S E S E
camhs-practitioner                | C C C S S E S S
adult-mental-health-practitioner  | S S C E S E S S
school-safeguarding-lead          | C C S C S S S E
police-ppn                        | C S S S C S S S
housing-officer                   | S E E E S C E E
third-sector-worker               | S S E E E E E E
front-door                        | C C C C C C C S
social-worker                     | C C C C C C C S
team-manager                      | C C C C C C C S
conference-chair                  | C C C C C C C S
board-analyst                     | E E E E E E E E
review-panel                      | E E E E E E E E
admin                             | E E E E E E E E
system                            | S E S S S S S E

[none]
role                              | {_CLASSES}
health-visitor                    | E E E E E E E E
midwife                           | E E E E E E E E
gp                                | E E E E E E E E
school-nurse                      | E E E E E E E E
ed-clinician                      | E E E E E E E E
camhs-practitioner                | E E E E E E E E
adult-mental-health-practitioner  | E E E E E E E E
school-safeguarding-lead          | E E E E E E E E
police-ppn                        | E E E E E E E E
housing-officer                   | E E E E E E E E
third-sector-worker               | E E E E E E E E
front-door                        | E E E E E E E E
social-worker                     | E E E E E E E E
team-manager                      | E E E E E E E E
conference-chair                  | E E E E E E E E
board-analyst                     | E E E E E E E E
review-panel                      | E E E E E E E E
admin                             | E E E E E E E E
system                            | E E E E E E E E
"""


def _parse(table: str) -> dict[tuple[str, str, str], Level]:
    policy: dict[tuple[str, str, str], Level] = {}
    relationship = None
    columns: list[str] = []
    for raw in table.strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("["):
            relationship = Relationship(line.strip("[]"))
            continue
        left, right = (part.strip() for part in line.split("|"))
        if left == "role":
            columns = right.split()
            continue
        levels = right.split()
        if relationship is None or len(levels) != len(columns):
            raise ValueError(f"policy table: malformed row {raw!r}")
        for cls, level in zip(columns, levels, strict=True):
            policy[(Role(left).value, cls, relationship.value)] = Level(level)
    expected = {(role.value, cls.value, rel.value) for role in Role for cls in Sensitivity for rel in Relationship}
    missing = expected - policy.keys()
    if missing:
        raise ValueError(f"policy table: no level for {sorted(missing)[:5]} ...")
    return policy


POLICY: dict[tuple[str, str, str], Level] = _parse(POLICY_TABLE)


def table_level(role: str, sensitivity: str, relationship: str) -> Level:
    """The level the table gives, before the own-organisation and break-glass overrides."""
    return POLICY[(role, sensitivity, relationship)]


def access_level(
    *,
    role: str,
    sensitivity: str,
    relationship: str,
    own_organisation: bool = False,
    break_glass: bool = False,
) -> Level:
    """What a viewer sees of one entry. The one function every reader of the spine asks."""
    if own_organisation and role in CASEWORK_ROLES:
        return Level.CONTENT
    if break_glass and relationship != Relationship.ALLOCATED:
        relationship = Relationship.ALLOCATED
    return table_level(role, sensitivity, relationship)


def render_markdown() -> str:
    """The policy as Markdown tables, for ``docs/access.md``."""
    out: list[str] = []
    classes = [c.value for c in Sensitivity]
    for rel in Relationship:
        out.append(f"### Relationship: {rel.value}\n")
        out.append("| role | " + " | ".join(classes) + " |")
        out.append("|---|" + "---|" * len(classes))
        for role in Role:
            cells = " | ".join(POLICY[(role.value, c, rel.value)].value for c in classes)
            out.append(f"| {role.value} | {cells} |")
        out.append("")
    return "\n".join(out)
