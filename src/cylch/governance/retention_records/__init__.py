"""The record classes of the retention schedule: what a record of each class is, who it is about,
when it was made and closed, what still needs it, and how it is removed (docs/governance.md,
"Retention").

``retention.py`` decides *when* (the schedule, holds, runs); this module knows *what*. Every
remover runs inside its batch's transaction and returns the rows it removed or changed, by
table, with a SHA-256 of them taken before the change: Django's "python" serialisation of the
rows (for an anonymised record, only the fields erased, with their old values), sorted by model
and primary key, as JSON with sorted keys, no spaces, UTF-8 and every other value as ``str``.
Anyone holding a backup from before the run can recompute it to show what a removal took.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    CHILD_TRIGGERS,
    Candidate,
    PersonFacts,
    RecordClass,
    RemovalContext,
    Removed,
    add_years,
    chunks,
    digest,
    person_facts,
)
from cylch.governance.retention_records.children import BreakGlassClass, LeadProposalsClass, StoriesClass
from cylch.governance.retention_records.hub import DepartedUsersClass, LinkageModelsClass, SignInAttemptsClass
from cylch.governance.retention_records.operational import (
    EmailsClass,
    ImportRunsClass,
    NotificationsClass,
    WebhookDeliveriesClass,
)
from cylch.governance.retention_records.person_index import HouseholdsClass, PersonIndexClass
from cylch.governance.retention_records.records import (
    AlertsClass,
    AuditLogClass,
    ProtectionClass,
    ReviewsClass,
    seq_ranges,
)
from cylch.governance.retention_records.spine import Chains, ReportsClass, SpineClass

__all__ = [
    "CHILD_TRIGGERS", "CLASSES", "AlertsClass", "AuditLogClass", "BreakGlassClass", "Candidate", "Chains",
    "EmailsClass", "HouseholdsClass", "ImportRunsClass", "LeadProposalsClass", "LinkageModelsClass", "NotificationsClass", "PersonFacts", "PersonIndexClass",
    "ProtectionClass", "RecordClass", "RemovalContext", "Removed", "ReportsClass", "ReviewsClass", "SignInAttemptsClass",
    "SpineClass", "StoriesClass",
    "WebhookDeliveriesClass", "add_years", "chunks", "digest", "person_facts", "seq_ranges",
]  # fmt: skip

# The order a run takes them in: a record that refers to another is removed (or detached) first,
# so what it pointed at is free by the time its own class comes. The operational records refer
# to nothing the others keep, and nothing keeps them: they come after the records of children, as
# do the hub's own working records (sign-in attempts, retired linkage models' name tables). The
# person index comes last before the audit log: a person goes only once nothing else refers to them;
# then the households no one is left in.
CLASSES: dict[str, RecordClass] = {
    c.key: c
    for c in (
        AlertsClass(),
        ProtectionClass(),
        ReviewsClass(),
        ReportsClass(),
        SpineClass(key="soft_concerns", label=_("Soft concerns"), soft=True),
        SpineClass(key="chronology", label=_("Other entries on the chronology"), soft=False),
        StoriesClass(),
        LeadProposalsClass(),
        BreakGlassClass(),
        ImportRunsClass(),
        WebhookDeliveriesClass(),
        NotificationsClass(),
        EmailsClass(),
        SignInAttemptsClass(),
        LinkageModelsClass(),
        DepartedUsersClass(),
        PersonIndexClass(),
        HouseholdsClass(),
        AuditLogClass(),
    )
}
