"""Records on the spine: soft concerns and other chronology entries (each with its corrections),
and reports, which own the entries written for them and carry their text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    CHILD_TRIGGERS,
    REPORT_EVENT_PREFIXES,
    Candidate,
    RecordClass,
    RemovalContext,
    Removed,
    chunks,
    count_rows,
    digest,
    household_members,
    local_day,
    member_on,
    serialised,
    valid_uuid,
)

# --- the spine: chains of corrections ----------------------------------------------------------


class Chains:
    """Corrections: which event each correction supersedes. A record on the spine is a chain,
    the latest version with every version it supersedes; it goes as one."""

    def __init__(self) -> None:
        from cylch.events.models import Event

        self.previous = dict(Event.objects.filter(supersedes__isnull=False).values_list("pk", "supersedes_id"))
        self.next = {old: new for new, old in self.previous.items()}

    def back(self, head: int) -> list[int]:
        """The head and every earlier version, newest first."""
        out, pk = [head], head
        while pk in self.previous and self.previous[pk] not in out:
            pk = self.previous[pk]
            out.append(pk)
        return out

    def forward(self, pks: Iterable[int]) -> set[int]:
        """``pks`` with every later correction of them."""
        out = set(pks)
        for pk in list(out):
            while pk in self.next and self.next[pk] not in out:
                pk = self.next[pk]
                out.add(pk)
        return out


def _event_rows(pks: set[int]) -> list[dict[str, Any]]:
    from cylch.chronology.models import Significance
    from cylch.events.models import Event
    from cylch.governance.models import Rectification
    from cylch.rules.models import AlertEvidence

    return [
        *serialised(Event.objects.filter(pk__in=pks)),
        *serialised(Significance.objects.filter(event_id__in=pks)),
        *serialised(Rectification.objects.filter(Q(original_id__in=pks) | Q(correction_id__in=pks))),
        *serialised(AlertEvidence.objects.filter(event_id__in=pks)),
    ]


def _delete_events(pks: set[int]) -> None:
    """Delete spine entries with their marks, rectifications and the alert evidence links that
    point at them, latest versions first (a correction protects the event it supersedes). An
    alert that keeps longer (about a younger sibling, say) keeps its counts, not the entry."""
    from cylch.events.models import Event
    from cylch.governance.models import Rectification
    from cylch.rules.models import AlertEvidence

    Rectification.objects.filter(Q(original_id__in=pks) | Q(correction_id__in=pks)).delete()
    AlertEvidence.objects.filter(event_id__in=pks).delete()
    remaining = set(pks)
    while remaining:
        superseded = set(
            Event.objects.filter(pk__in=remaining, supersedes_id__in=remaining).values_list("supersedes_id", flat=True)
        )
        leaves = remaining - superseded
        if not leaves:  # a cycle cannot be stored, but never loop for ever
            raise RuntimeError("spine entries supersede each other in a cycle")
        for pk in sorted(leaves):
            Event.objects.filter(pk=pk).delete()
        remaining -= leaves


def _events_needed_by(pks: set[int]) -> tuple[str, str] | None:
    """A kept record that refers to one of these spine entries: a meeting of a child protection
    process not yet anonymised (the entry is the record that the meeting was held)."""
    from cylch.protection.models import Meeting

    meeting = Meeting.objects.filter(event_id__in=pks).select_related("episode").first()
    if meeting is not None:
        return ("protection", str(meeting.episode.public_id))
    return None


class SpineClass(RecordClass):
    """Entries on the spine (each with its corrections), except those a report owns."""

    action = "delete"
    triggers = CHILD_TRIGGERS | {"recorded"}

    def __init__(self, *, key: str, label: Any, soft: bool) -> None:
        self.key, self.label, self.soft = key, label, soft

    def _codes(self) -> set[str]:
        from cylch.core import taxonomy

        return {c.code for c in taxonomy.codes().values() if c.soft}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.events.models import Event

        soft_codes = self._codes()
        chains = Chains()
        owned, earlier = set(), {}
        for ids in chunks(sorted(set(chains.previous.values()))):
            for pk, public_id, ext in Event.objects.filter(pk__in=ids).values_list("pk", "public_id", "external_id"):
                earlier[pk] = str(public_id)
                if (ext or "").startswith(REPORT_EVENT_PREFIXES):
                    owned.add(pk)
        heads = (
            Event.objects.filter(superseded_by__isnull=True)
            .order_by("pk")
            .values_list(
                "pk", "public_id", "person_id", "household_id", "occurred_at", "recorded_at", "code", "external_id"
            )
        )
        for rows in chunks(heads.iterator(chunk_size=2000), 2000):
            mine = []
            for row in rows:
                pk, _pid, _person, _hh, _occ, _rec, code, ext = row
                if (code in soft_codes) != self.soft or (ext or "").startswith(REPORT_EVENT_PREFIXES):
                    continue
                chain = chains.back(pk)
                if owned.intersection(chain[1:]):
                    continue
                mine.append((row, chain))
            households = household_members({r[3] for r, _c in mine if r[2] is None and r[3] is not None})
            for (pk, public_id, person, household, occurred_at, recorded_at, _code, _ext), chain in mine:
                on = local_day(occurred_at)
                if person is not None:
                    persons, age = frozenset({person}), (person,)
                else:
                    members = households.get(household, [])
                    persons = frozenset(p for p, _s, _u in members)
                    age = tuple(p for p, since, until in members if member_on(since, until, on))
                yield Candidate(key=str(public_id), pk=pk, on=on, recorded=on, persons=persons, age_persons=age,
                                aliases=frozenset(earlier[c] for c in chain[1:] if c in earlier),
                                extra={"chain": chain, "recorded_at": recorded_at})  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.events.models import Event

        return valid_uuid(record_id) and Event.objects.filter(public_id=record_id).exists()

    def needed_by(self, candidate: Candidate) -> tuple[str, str] | None:
        return _events_needed_by(set(candidate.extra["chain"]))

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.events.models import Event

        chain = set(candidate.extra["chain"])
        if not Event.objects.filter(pk=candidate.pk).exists():
            return None
        rows = _event_rows(chain)
        _delete_events(chain)
        return Removed(count_rows(rows), digest(rows), detail={"versions": len(chain)})


class ReportsClass(RecordClass):
    """A report with its subjects, body map, files, challenges, held decisions and its own
    entries on each child's spine (they carry its text)."""

    key = "reports"
    label = _("Reports to children's services")
    action = "delete"
    triggers = CHILD_TRIGGERS | {"recorded"}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.reports.models import Report, ReportSubject, Status

        rows = Report.objects.order_by("pk").values_list("pk", "public_id", "received_at", "decided_at", "status")
        for batch in chunks(rows.iterator(chunk_size=2000), 2000):
            subjects: dict[int, list[tuple[str, int]]] = {}
            for ids in chunks([r[0] for r in batch]):
                for report, role, person in ReportSubject.objects.filter(report_id__in=ids).values_list(
                    "report_id", "role", "person_id"
                ):
                    subjects.setdefault(report, []).append((role, person))
            for pk, public_id, received_at, decided_at, status in batch:
                people = subjects.get(pk, [])
                yield Candidate(
                    key=str(public_id), pk=pk, on=local_day(received_at), recorded=local_day(received_at),
                    persons=frozenset(p for _r, p in people), age_persons=tuple(p for r, p in people if r == "child"),
                    all_children=True, closed=local_day(decided_at), open=status == Status.RECEIVED,
                )  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.reports.models import Report

        return valid_uuid(record_id) and Report.objects.filter(public_id=record_id).exists()

    def _events(self, report) -> set[int]:
        from cylch.events.models import Event

        prefixes = [f"report:{report.reference}:"] + [
            f"challenge:{c}:" for c in report.challenges.values_list("public_id", flat=True)
        ]
        query = Q()
        for prefix in prefixes:
            query |= Q(external_id__startswith=prefix)
        own = set(Event.objects.filter(query).values_list("pk", flat=True))
        return Chains().forward(own)

    def needed_by(self, candidate: Candidate) -> tuple[str, str] | None:
        from cylch.protection.models import Episode
        from cylch.reports.models import Report

        episode = Episode.objects.filter(report_id=candidate.pk).first()
        if episode is not None:
            return ("protection", str(episode.public_id))
        report = Report.objects.filter(pk=candidate.pk).first()
        return _events_needed_by(self._events(report)) if report else None

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.governance.models import ApprovalRequest
        from cylch.reports.attachments import upload_dir
        from cylch.reports.models import Attachment, BodyMapMark, Challenge, ChallengeStep, Report, ReportSubject

        report = Report.objects.select_for_update().filter(pk=candidate.pk).first()
        if report is None:
            return None
        events = self._events(report)
        attachments = list(Attachment.objects.filter(report=report))
        rows = [
            *serialised([report]),
            *serialised(ReportSubject.objects.filter(report=report)),
            *serialised(BodyMapMark.objects.filter(report=report)),
            *serialised(attachments),
            *serialised(Challenge.objects.filter(report=report)),
            *serialised(ChallengeStep.objects.filter(challenge__report=report)),
            *serialised(ApprovalRequest.objects.filter(report=report)),
            *_event_rows(events),
        ]
        ApprovalRequest.objects.filter(report=report).delete()
        _delete_events(events)
        report.delete()
        folder = upload_dir()
        return Removed(count_rows(rows), digest(rows), files=[folder / a.stored_name for a in attachments],
                       detail={"reference": report.reference, "files": len(attachments)})  # fmt: skip
