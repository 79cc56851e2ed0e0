"""Family conflicts for review: who sees which, the decision and what it changes, and that
later checks, resends and merges respect it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.events.models import Event
from cylch.identity.conflicts import (
    ENDED,
    ERROR,
    KEEP,
    Outcome,
    conflict_decide,
    conflict_view,
    open_conflicts_for,
)
from cylch.identity.events import FAMILY_REVIEWED
from cylch.identity.linking import person_merge
from cylch.identity.models import ConflictDecision, FamilyConflict, Person, Relationship
from cylch.identity.network import check_people
from cylch.identity.services import relationship_add


def _person(given: str, family: str, born: date) -> Person:
    return Person.objects.create(given_name=given, family_name=family, date_of_birth=born)


@pytest.fixture
def family(prydderch):
    """Alys (Ceredigion) is recorded with three parents: Ceri (GP), Gareth (police), Huw (school).
    Efa (Carmarthenshire) with three too: Dafydd and two more."""
    p = prydderch
    gareth = _person("Gareth", "Lloyd", date(1980, 1, 1))
    huw = _person("Huw", "Bowen", date(1982, 1, 1))
    relationship_add(person=gareth, kind="parent", relative=p.alys, source_organisation=p.orgs.police)
    relationship_add(person=huw, kind="parent", relative=p.alys, source_organisation=p.orgs.school,
                     parental_responsibility=True)  # fmt: skip
    for n, given in enumerate(("Rhodri", "Siôn")):
        relationship_add(person=_person(given, "Morgan", date(1975 + n, 1, 1)), kind="parent", relative=p.efa)
    alys = FamilyConflict.objects.get(person=p.alys, resolved=False)
    efa = FamilyConflict.objects.get(person=p.efa, resolved=False)
    return p, alys, efa, gareth, huw


def _rel(parent: Person, child: Person) -> Relationship:
    return Relationship.objects.get(person=parent, kind="parent", relative=child)


def _decide(conflict, actor, choices: dict[Person, tuple], reason="Checked with the GP and the school."):
    outcomes = [
        Outcome(relationship_id=_rel(person, conflict.person).pk, outcome=c[0], ended_on=c[1] if len(c) > 1 else None,
                note=c[2] if len(c) > 2 else "")
        for person, c in choices.items()
    ]  # fmt: skip
    return conflict_decide(conflict=conflict, actor=actor, outcomes=outcomes, reason=reason)


# --- scope ---------------------------------------------------------------------------------------


def test_each_authority_sees_the_conflicts_of_children_living_there(family):
    """The queue is the matching queue's scope: children's services of where the child lives."""
    p, alys, efa, *_ = family
    assert list(open_conflicts_for(p.staff.social_worker)) == [alys]
    assert list(open_conflicts_for(p.staff.other_la_social_worker)) == [efa]
    assert list(open_conflicts_for(p.staff.health_visitor)) == []


def test_the_queue_page_lists_only_conflicts_in_scope_newest_first_with_counts(client, family):
    p, alys, efa, *_ = family
    newer = FamilyConflict.objects.create(person=p.twm, kind="parent_too_young", detail={})
    client.force_login(p.staff.social_worker)
    page = client.get("/matching/family/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "2 conflicts are waiting for a decision." in text
    assert text.index(f"/matching/family/{newer.pk}/") < text.index(f"/matching/family/{alys.pk}/")
    assert f"/matching/family/{efa.pk}/" not in text and "Efa" not in text


def test_the_matching_queue_links_to_the_family_conflicts(client, family):
    p, alys, *_ = family
    client.force_login(p.staff.social_worker)
    text = client.get("/matching/").content.decode()
    assert "/matching/family/" in text and f"/matching/family/{alys.pk}/" in text
    assert "1 family conflict is waiting for a decision." in text


def test_someone_outside_the_scope_is_refused_and_changes_nothing(client, family):
    """Another authority's reviewer gets 404 (as for a conflict that does not exist); another
    agency's practitioner 403; neither decides anything."""
    p, alys, *_ = family
    client.force_login(p.staff.other_la_social_worker)
    assert client.get(f"/matching/family/{alys.pk}/").status_code == 404
    body = {"relationships": "1,2,3", "outcome-1": "keep", "outcome-2": "keep", "outcome-3": "error", "reason": "x"}
    assert client.post(f"/matching/family/{alys.pk}/", body).status_code == 404
    client.force_login(p.staff.health_visitor)
    assert client.get("/matching/family/").status_code == 403
    assert client.get(f"/matching/family/{alys.pk}/").status_code == 403
    assert client.post(f"/matching/family/{alys.pk}/", body).status_code == 403
    alys.refresh_from_db()
    assert not alys.resolved
    assert not Relationship.objects.filter(relative=p.alys, to_date__isnull=False).exists()


# --- the page -----------------------------------------------------------------------------------


def test_the_conflict_page_shows_the_relationships_side_by_side(client, family, django_assert_max_num_queries):
    p, alys, _efa, gareth, huw = family
    view = conflict_view(alys)
    assert [s.relative for s in view.sides] == [p.ceri, gareth, huw]
    assert view.sides[0].lives_at_childs_home and not view.sides[1].lives_at_childs_home
    assert view.sides[0].age_gap == 24 and [r.organisation for r in view.sides[0].records] == [p.orgs.gp]
    client.force_login(p.staff.social_worker)
    with django_assert_max_num_queries(25):
        page = client.get(f"/matching/family/{alys.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    for words in ("Ceri Prydderch", "Gareth Lloyd", "Huw Bowen", str(p.orgs.police), str(p.orgs.school),
                  "3 people are recorded as a parent", "Parental responsibility"):  # fmt: skip
        assert words in text, words
    assert AuditEntry.objects.filter(action="read", object_type="family_conflict", object_id=str(alys.pk)).exists()


def test_the_page_decides_and_moves_on(client, family):
    p, alys, _efa, gareth, huw = family
    client.force_login(p.staff.social_worker)
    ids = ",".join(str(_rel(x, p.alys).pk) for x in (p.ceri, gareth, huw))
    ended = (timezone.localdate() - timedelta(days=30)).strftime("%d/%m/%Y")
    done = client.post(
        f"/matching/family/{alys.pk}/",
        {"relationships": ids, "outcome-1": "keep", "outcome-2": "error", "outcome-3": "ended", "ended-3": ended,
         "reason": "Gareth is Alys's uncle; Huw was her stepfather until last month."},
    )  # fmt: skip
    assert done.status_code == 302 and done["Location"] == "/matching/family/"
    alys.refresh_from_db()
    assert alys.resolved and alys.decision == ConflictDecision.CORRECTED
    page = client.get(f"/matching/family/{alys.pk}/").content.decode()
    assert "Recorded in error" in page and "Gareth is Alys" in page and "Record decision" not in page


def test_a_reason_is_required(client, family):
    p, alys, _efa, gareth, huw = family
    with pytest.raises(ValidationError) as err:
        _decide(alys, p.staff.social_worker, {p.ceri: (KEEP,), gareth: (ERROR,), huw: (KEEP,)}, reason="  ")
    assert "reason" in err.value.message_dict
    client.force_login(p.staff.social_worker)
    ids = ",".join(str(_rel(x, p.alys).pk) for x in (p.ceri, gareth, huw))
    page = client.post(f"/matching/family/{alys.pk}/", {"relationships": ids, "outcome-1": "keep", "outcome-2": "error",
                                                          "outcome-3": "keep", "reason": ""})  # fmt: skip
    text = page.content.decode()
    assert page.status_code == 200 and "There is a problem" in text and "Say why: what you checked" in text
    assert 'href="#id_reason"' in text
    alys.refresh_from_db()
    assert not alys.resolved and _rel(gareth, p.alys).to_date is None


def test_every_relationship_needs_an_answer_and_an_end_needs_a_date(family):
    p, alys, _efa, gareth, huw = family
    with pytest.raises(ValidationError) as err:
        _decide(alys, p.staff.social_worker, {p.ceri: (KEEP,), gareth: ("",), huw: (ENDED, None)})
    assert set(err.value.message_dict) == {"outcome-2", "ended-3"}
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as err:
        _decide(alys, p.staff.social_worker, {p.ceri: (KEEP,), gareth: (ERROR,), huw: (ENDED, tomorrow)})
    assert set(err.value.message_dict) == {"ended-3"}


def test_keeping_three_parents_needs_a_note_saying_which_is_which(family):
    """Both right (a birth mother and an adoptive mother) is a decision, with each one named."""
    p, alys, _efa, gareth, huw = family
    with pytest.raises(ValidationError) as err:
        _decide(alys, p.staff.social_worker, {p.ceri: (KEEP, None, "birth mother"), gareth: (KEEP,), huw: (KEEP,)})
    assert set(err.value.message_dict) == {"note-2", "note-3"}


def test_a_decision_on_a_family_that_changed_meanwhile_is_refused(family):
    p, alys, _efa, gareth, huw = family
    shown = ",".join(str(_rel(x, p.alys).pk) for x in (p.ceri, gareth, huw))
    relationship_add(person=_person("Iolo", "Rees", date(1979, 3, 3)), kind="parent", relative=p.alys)
    outcomes = [Outcome(_rel(x, p.alys).pk, KEEP, None, "n") for x in (p.ceri, gareth, huw)]
    with pytest.raises(ValidationError, match="changed since you opened"):
        conflict_decide(conflict=alys, actor=p.staff.social_worker, outcomes=outcomes, reason="r", shown=shown)


# --- the decision --------------------------------------------------------------------------------


def test_deciding_ends_the_wrong_relationships_and_closes_the_conflict_with_the_reason(family):
    p, alys, _efa, gareth, huw = family
    sw = p.staff.social_worker
    ended = timezone.localdate() - timedelta(days=10)
    _decide(alys, sw, {p.ceri: (KEEP, None, "birth mother"), gareth: (ERROR,), huw: (ENDED, ended)},
            reason="Gareth is her uncle (police mixed up the household); Huw left in the spring.")  # fmt: skip
    alys.refresh_from_db()
    assert alys.resolved and alys.resolved_by == sw and alys.resolved_at is not None
    assert alys.decision == ConflictDecision.CORRECTED and alys.note.startswith("Gareth is her uncle")
    assert [(o["outcome"], o["person"]) for o in alys.outcomes] == [
        (KEEP, str(p.ceri.public_id)), (ERROR, str(gareth.public_id)), (ENDED, str(huw.public_id))]  # fmt: skip
    wrong, left, right = _rel(gareth, p.alys), _rel(huw, p.alys), _rel(p.ceri, p.alys)
    assert wrong.recorded_in_error and wrong.to_date == timezone.localdate()
    assert left.to_date == ended and not left.recorded_in_error
    assert right.to_date is None and right.note == "birth mother"
    audit = AuditEntry.objects.get(action="write", object_type="family_conflict", object_id=str(alys.pk))
    assert audit.detail["decision"] == "corrected" and audit.detail["reason"].startswith("Gareth")
    # On the child's chronology: who, when, why.
    entry = Event.objects.get(person=p.alys, code=FAMILY_REVIEWED)
    assert entry.recorded_by == sw and "Gareth Lloyd, parent: recorded in error." in entry.summary
    assert "Reason: Gareth is her uncle" in entry.summary and entry.sensitivity == "special"
    with pytest.raises(ValidationError, match="already been decided"):
        _decide(alys, sw, {p.ceri: (KEEP,), gareth: (KEEP,), huw: (KEEP,)})


def test_after_the_decision_the_person_page_and_the_family_leave_out_the_wrong_parent(client, family):
    """A relationship recorded in error is not shown or counted as family any more; an ended one
    is shown as ended, and no longer counted as a parent now."""
    from cylch.chronology.family import family_of

    p, alys, _efa, gareth, huw = family
    ended = timezone.localdate() - timedelta(days=10)
    _decide(alys, p.staff.social_worker, {p.ceri: (KEEP,), gareth: (ERROR,), huw: (ENDED, ended)})
    client.force_login(p.staff.social_worker)
    page = client.get(f"/people/{p.alys.public_id}/").content.decode()
    section = page.split("Family and significant people", 1)[1].split("</ul>", 1)[0]
    assert "Gareth Lloyd" not in section and "Huw Bowen" in section and f"ended {ended:%-d %B %Y}" in section
    members = {m.person.pk: m.role for m in family_of(p.alys).members}
    assert gareth.pk not in members and members[p.ceri.pk] == "parent"


def test_a_later_run_does_not_reopen_a_decided_conflict(family):
    """Both right, decided: the agencies sending the same parents again, a fresh check and a
    merge in the family ask nothing again. A new parent does."""
    p, alys, _efa, gareth, huw = family
    _decide(alys, p.staff.social_worker,
            {p.ceri: (KEEP, None, "birth mother"), gareth: (KEEP, None, "adoptive father"),
             huw: (KEEP, None, "adoptive father's husband")})  # fmt: skip
    alys.refresh_from_db()
    assert alys.decision == ConflictDecision.ALL_RIGHT
    relationship_add(person=gareth, kind="parent", relative=p.alys, source_organisation=p.orgs.police)
    check_people([p.alys, p.ceri])
    duplicate = _person("Huw", "Bowen", date(1982, 1, 1))
    person_merge(source=duplicate, target=huw, actor=None, reason="test")
    assert not FamilyConflict.objects.filter(person=p.alys, resolved=False).exists()
    relationship_add(person=_person("Iolo", "Rees", date(1979, 3, 3)), kind="parent", relative=p.alys)
    assert FamilyConflict.objects.filter(person=p.alys, kind="too_many_parents", resolved=False).count() == 1


def test_a_resent_wrong_relationship_stays_ended(family):
    """An agency sending the wrong relationship again does not bring it back."""
    p, alys, _efa, gareth, huw = family
    _decide(alys, p.staff.social_worker, {p.ceri: (KEEP,), gareth: (ERROR,), huw: (KEEP,)})
    relationship_add(person=gareth, kind="parent", relative=p.alys, source_organisation=p.orgs.police)
    check_people([p.alys])
    rel = _rel(gareth, p.alys)
    assert rel.recorded_in_error and rel.to_date is not None
    assert not FamilyConflict.objects.filter(person=p.alys, resolved=False).exists()


def test_a_decision_settles_the_childs_other_conflicts_it_answers(family):
    """The too-young "parent" recorded in error closes the too-young conflict too."""
    p, alys, _efa, gareth, huw = family
    young = _person("Macsen", "Ifan", date(2012, 1, 1))
    relationship_add(person=young, kind="parent", relative=p.alys)
    too_young = FamilyConflict.objects.get(person=p.alys, kind="parent_too_young", resolved=False)
    _decide(alys, p.staff.social_worker, {p.ceri: (KEEP,), gareth: (KEEP,), huw: (ERROR,), young: (ERROR,)})
    too_young.refresh_from_db()
    assert too_young.resolved and f"family conflict {alys.pk}" in too_young.note
    assert not FamilyConflict.objects.filter(person=p.alys, resolved=False).exists()


def test_the_pages_speak_welsh(client, family):
    p, alys, *_ = family
    client.force_login(p.staff.team_manager)  # Aled reads Cylch in Welsh
    client.get("/language/cy/")
    assert client.get("/matching/family/").status_code == 200
    page = client.get(f"/matching/family/{alys.pk}/")
    assert page.status_code == 200 and 'lang="cy"' in page.content.decode()
