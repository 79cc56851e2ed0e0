"""Three smaller records about a child: the child's story (a few sentences in plain words that
meetings open with) and Cylch's proposals of a lead coordinator, deleted when the child's other
records are; and break-glass grants (who opened a child's record in an emergency, and why),
deleted when the audit log's entries of that access are erased."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    CHILD_TRIGGERS,
    Candidate,
    RecordClass,
    RemovalContext,
    Removed,
    chunks,
    count_rows,
    digest,
    local_day,
    serialised,
    valid_uuid,
)

STORY_PREFIX = "story-"  # a story has no public id: ``story-<pk>``, so no other class's id can match it


class StoriesClass(RecordClass):
    """One version of a child's story. Each save writes a new version; every version is the
    child's and goes by the children's rules from when it was written."""

    key = "child_stories"
    label = _("Children's stories")
    action = "delete"
    triggers = CHILD_TRIGGERS | {"recorded"}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.chronology.models import ChildStory

        rows = ChildStory.objects.order_by("pk").values_list("pk", "child_id", "written_at")
        for batch in chunks(rows.iterator(chunk_size=2000), 2000):
            for pk, child, written_at in batch:
                day = local_day(written_at)
                yield Candidate(key=f"{STORY_PREFIX}{pk}", pk=pk, on=day, recorded=day, persons=frozenset({child}),
                                age_persons=(child,), all_children=True)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.chronology.models import ChildStory

        number = str(record_id).removeprefix(STORY_PREFIX)
        return (
            str(record_id).startswith(STORY_PREFIX)
            and number.isdigit()
            and ChildStory.objects.filter(pk=int(number)).exists()
        )

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.chronology.models import ChildStory

        story = ChildStory.objects.select_for_update().filter(pk=candidate.pk).first()
        if story is None:
            return None
        rows = serialised([story])
        story.delete()
        return Removed(count_rows(rows), digest(rows))


class BreakGlassClass(RecordClass):
    """A break-glass grant: who opened whose record outside the child's circle, why, and until
    when. One still in force is open and never due."""

    key = "break_glass"
    label = _("Break-glass access to a child's record")
    action = "delete"
    triggers = frozenset({"recorded"})

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.access.models import BreakGlass

        now = timezone.now()
        rows = BreakGlass.objects.order_by("pk").values_list("pk", "public_id", "person_id", "started_at", "expires_at")
        for pk, public_id, person, started_at, expires_at in rows.iterator(chunk_size=2000):
            day = local_day(started_at)
            yield Candidate(key=str(public_id), pk=pk, on=day, recorded=day, persons=frozenset({person}),
                            age_persons=(), open=expires_at > now)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.access.models import BreakGlass

        return valid_uuid(record_id) and BreakGlass.objects.filter(public_id=record_id).exists()

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.access.models import BreakGlass

        grant = BreakGlass.objects.select_for_update().filter(pk=candidate.pk).first()
        if grant is None or grant.expires_at > timezone.now():
            return None
        rows = serialised([grant])
        grant.delete()
        return Removed(count_rows(rows), digest(rows))


class LeadProposalsClass(RecordClass):
    """Cylch's proposal of who should coordinate for a child, and the manager's answer (confirmed,
    declined with a note, withdrawn). A child's record: it goes by the children's rules. One
    still waiting for a manager is open and never due. A declined proposal stops the same
    authority being proposed again, which no longer matters once the child's records have gone."""

    key = "lead_proposals"
    label = _("Proposals of a lead coordinator")
    action = "delete"
    triggers = CHILD_TRIGGERS | {"recorded", "closed"}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.rules.models import LeadCoordinatorProposal, ProposalStatus

        rows = LeadCoordinatorProposal.objects.order_by("pk").values_list(
            "pk", "public_id", "person_id", "created_at", "decided_at", "status"
        )
        for pk, public_id, person, created_at, decided_at, status in rows.iterator(chunk_size=2000):
            made = local_day(created_at)
            decided = local_day(decided_at)
            yield Candidate(key=str(public_id), pk=pk, on=made, recorded=made, persons=frozenset({person}),
                            age_persons=(person,), closed=decided or made,
                            open=status == ProposalStatus.PROPOSED)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.rules.models import LeadCoordinatorProposal

        return valid_uuid(record_id) and LeadCoordinatorProposal.objects.filter(public_id=record_id).exists()

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.rules.models import LeadCoordinatorProposal, ProposalStatus

        proposal = LeadCoordinatorProposal.objects.select_for_update().filter(pk=candidate.pk).first()
        if proposal is None or proposal.status == ProposalStatus.PROPOSED:
            return None
        rows = serialised([proposal])
        proposal.delete()
        return Removed(count_rows(rows), digest(rows))
