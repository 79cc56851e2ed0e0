"""Framework self-assessments: one a year per framework and board, answers saved as drafts,
submission refused while a component is unanswered (naming it), last year's evidence as a
starting point, the year-on-year figures, and one board never reaching another's."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry, BoardArea
from cylch.access.roles import Role
from cylch.reviews import assessments as svc
from cylch.reviews import frameworks
from cylch.reviews.assessments import Answer, answer_field
from cylch.reviews.models import Assessment
from tests import factories

pytestmark = pytest.mark.django_db
RR = "rapid-review-2023"
YEAR = timezone.localdate().year


def _board_user(username: str, area: BoardArea | None, role: str = Role.BOARD_ANALYST):
    org = factories.organisation(code=f"{username}-board", kind="safeguarding_board", local_authority=None)
    org.board_area = area
    org.save()
    return factories.demo_practitioner(username=username, role=role, organisation=org)


@pytest.fixture
def analyst():
    return _board_user("mww.analyst", factories.places().mid_and_west_wales)


@pytest.fixture
def outsider():
    return _board_user("north.analyst", BoardArea.objects.create(code="north-wales", name_en="North Wales",
                                                                 name_cy="Gogledd Cymru"))  # fmt: skip


@pytest.fixture
def rr():
    return frameworks.framework(RR)


def start(user, year=None, copy_previous=True):
    return svc.assessment_start(user=user, assessor=svc.assessor_for(user), framework_id=RR, year=year,
                                copy_previous=copy_previous)  # fmt: skip


def full_answers(rr, grade=3, **overrides) -> dict[str, Answer]:
    out = {c.id: Answer(grade, f"Evidence for {c.id}", f"Actions for {c.id}") for c in rr.components}
    out.update(overrides)
    return out


def submitted(user, rr, year, grades: dict[str, int]):
    a = start(user, year=year, copy_previous=False)
    answers = full_answers(rr)
    answers.update({c: Answer(g, f"Evidence {year}", f"Actions {year}") for c, g in grades.items()})
    svc.assessment_save(a, user=user, answers=answers)
    return svc.assessment_submit(a, user=user)


def test_one_assessment_a_year_per_framework(analyst, rr):
    a = start(analyst)
    assert (a.framework, a.framework_version, a.year, a.state) == (RR, rr.version, YEAR, "draft")
    assert a.board_area == analyst.organisation.board_area and a.local_authority is None
    with pytest.raises(ValidationError) as err:  # NULL local_authority: the database constraint cannot catch this
        start(analyst)
    assert list(err.value.message_dict) == ["framework"]
    for unknown in ("12cs", "no-such-framework"):
        with pytest.raises(ValidationError):
            svc.assessment_start(user=analyst, assessor=svc.assessor_for(analyst), framework_id=unknown)
    assert Assessment.objects.count() == 1
    assert start(analyst, year=YEAR - 1).year == YEAR - 1


def test_drafts_may_be_partial_but_grades_must_be_on_the_scale(analyst, rr):
    a = start(analyst)
    svc.assessment_save(a, user=analyst, answers={"1.1": Answer(2, "A protocol is drafted", ""), "1.2": Answer()})
    assert list(a.answers.values_list("component", "grade")) == [("1.1", 2)]
    with pytest.raises(ValidationError) as err:
        svc.assessment_save(a, user=analyst, answers={"1.2": Answer(5, "x", "y")})
    assert err.value.message_dict == {answer_field("1.2", "grade"): ["1.2: choose a grade from 1 to 4."]}
    svc.assessment_save(a, user=analyst, answers={"1.1": Answer()})  # blanking an answer removes it
    assert not a.answers.exists()


def test_submit_refuses_naming_what_is_missing(analyst, rr):
    a = start(analyst)
    answers = full_answers(rr)
    answers["1.2"] = Answer(None, "Evidence", "Actions")  # no grade
    answers["3.1"] = Answer(2, "", "Actions")  # no evidence
    answers["6.2"] = Answer(2, "Evidence", "")  # below the top grade: actions needed
    answers["4.1"] = Answer(4, "Evidence", "")  # at the top grade: no actions needed
    del answers["5.1"]  # not answered at all
    svc.assessment_save(a, user=analyst, answers=answers)
    with pytest.raises(ValidationError) as err:
        svc.assessment_submit(a, user=analyst)
    errors = err.value.message_dict
    assert set(errors) == {answer_field("1.2", "grade"), answer_field("3.1", "evidence"),
                           answer_field("6.2", "actions"), answer_field("5.1", "grade")}  # fmt: skip
    title = rr.component("5.1").title["en"]
    assert errors[answer_field("5.1", "grade")] == [f"5.1 {title} – missing: grade, evidence, actions"]
    assert Assessment.objects.get(pk=a.pk).state == "draft"
    svc.assessment_save(a, user=analyst, answers=full_answers(rr, **{"4.1": Answer(4, "Evidence", "")}))
    svc.assessment_submit(a, user=analyst)
    a.refresh_from_db()
    assert a.state == "submitted" and a.submitted_on == timezone.localdate()
    with pytest.raises(ValidationError):
        svc.assessment_save(a, user=analyst, answers={"1.1": Answer(1, "Changed", "")})
    assert [e.detail["op"] for e in AuditEntry.objects.filter(object_type="assessment").order_by("seq")] == [
        "start", "save", "save", "submit"]  # fmt: skip


def test_a_new_year_starts_from_last_years_evidence_not_its_grades(analyst, rr):
    submitted(analyst, rr, YEAR - 2, {"1.1": 1})
    submitted(analyst, rr, YEAR - 1, {"1.1": 2})
    a = start(analyst)
    first = a.answers.get(component="1.1")
    assert (first.grade, first.evidence, first.actions) == (None, f"Evidence {YEAR - 1}", f"Actions {YEAR - 1}")
    assert a.answers.count() == len(rr.components)
    b = svc.assessment_start(user=analyst, assessor=svc.assessor_for(analyst), framework_id=RR, year=YEAR + 1,
                             copy_previous=False)  # fmt: skip
    assert not b.answers.exists()


def test_year_on_year_figures(analyst, rr):
    submitted(analyst, rr, YEAR - 2, {"1.1": 1, "1.2": 2, "1.3": 4})
    submitted(analyst, rr, YEAR - 1, {"1.1": 2, "1.2": 2, "1.3": 3})
    draft = start(analyst, copy_previous=False)
    svc.assessment_save(draft, user=analyst, answers={"1.1": Answer(4, "", ""), "1.2": Answer(None, "Notes", "")})
    result = svc.comparison(assessor=svc.assessor_for(analyst), framework_id=RR)
    assert [y.assessment.year for y in result.years] == [YEAR - 2, YEAR - 1, YEAR]
    rows = {r.component.id: r for r in result.rows}
    assert [(c.grade, c.change, c.previous) for c in rows["1.1"].cells] == [(1, None, None), (2, 1, 1), (4, 2, 2)]
    assert [(c.grade, c.change) for c in rows["1.2"].cells] == [(2, None), (2, 0), (None, None)]
    assert [(c.grade, c.change) for c in rows["1.3"].cells] == [(4, None), (3, -1), (None, None)]
    first = result.years[0]
    assert first.answered == 20 and first.counts == {1: 1, 2: 1, 3: 17, 4: 1}
    assert first.mean == round((1 + 2 + 4 + 17 * 3) / 20, 2)
    assert result.years[2].answered == 1 and result.years[2].mean == 4
    assert (result.improved, result.declined) == (1, 0)  # the latest year against the one before


def test_another_boards_assessment_is_not_found_and_its_writes_refused(analyst, outsider, rr):
    a = start(analyst)
    with pytest.raises(Http404):
        svc.assessment_for(outsider, a.public_id)
    with pytest.raises(PermissionDenied):
        svc.assessment_save(a, user=outsider, answers={"1.1": Answer(1, "x", "y")})
    with pytest.raises(PermissionDenied):
        svc.assessment_submit(a, user=outsider)
    with pytest.raises(PermissionDenied):
        svc.assessment_start(user=outsider, assessor=svc.assessor_for(analyst), framework_id=RR)
    assert not a.answers.exists()
    assert svc.comparison(assessor=svc.assessor_for(outsider), framework_id=RR).years == ()


# --- pages --------------------------------------------------------------------------------------


def test_the_index_offers_the_shipped_frameworks_and_names_the_template(client, analyst):
    client.force_login(analyst)
    page = client.get(reverse("reviews:assessments")).content.decode()
    assert "Rapid review of child protection arrangements (2023): recommendations" in page
    assert f"Start the {YEAR} assessment" in page
    assert "The Collective Safeguarding Responsibility Model: 12Cs" in page and "Needs the published wording" in page
    assert reverse("reviews:assessment-adding") in page
    guide = client.get(reverse("reviews:assessment-adding")).content.decode()
    assert "12cs-template.yaml" in guide and "python -m cylch.reviews.frameworks" in guide


def test_start_answer_submit_and_compare_on_the_pages(client, analyst, rr):
    submitted(analyst, rr, YEAR - 1, {"1.1": 2})
    client.force_login(analyst)
    response = client.post(reverse("reviews:assessment-start"), {"framework": RR, "copy_previous": "on"})
    a = Assessment.objects.get(year=YEAR)
    assert response.status_code == 302 and response["Location"] == reverse("reviews:assessment", args=[a.public_id])
    again = client.post(reverse("reviews:assessment-start"), {"framework": RR})
    assert again["Location"] == response["Location"] and Assessment.objects.filter(year=YEAR).count() == 1
    url = response["Location"]
    page = client.get(url).content.decode()
    assert "0 of 20 components graded" in page and f"Grade in {YEAR - 1}: 2 Planned" in page
    assert "Action is agreed and planned, with an owner and a date" in page  # the level's description
    assert f"Evidence {YEAR - 1}" in page  # copied as the starting point
    form = {"action": "save", answer_field("1.1", "grade"): "3"}
    assert client.post(url, form).status_code == 302
    assert a.answers.get(component="1.1").grade == 3
    response = client.post(url, {**form, "action": "submit", answer_field("1.1", "evidence"): "Protocol agreed"})
    body = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in body
    assert f'href="#id_{answer_field("1.2", "grade")}"' in body and "1.2 " in body
    assert "Your answers are saved as a draft" in body
    assert a.answers.get(component="1.1").evidence == "Protocol agreed"
    done = {"action": "submit"}
    for c in rr.components:
        done |= {
            answer_field(c.id, "grade"): "3",
            answer_field(c.id, "evidence"): "E",
            answer_field(c.id, "actions"): "A",
        }
    assert client.post(url, done).status_code == 302
    a.refresh_from_db()
    assert a.state == "submitted"
    assert "Submitted" in client.get(url).content.decode()
    page = client.get(reverse("reviews:assessment-compare", args=[RR])).content.decode()
    assert "up from 2" in page and "no change" in page
    assert f"Components graded higher from {YEAR - 1} to {YEAR}: 1; graded lower: 0." in page
    assert client.get(reverse("reviews:assessment-compare", args=["no-such"])).status_code == 404


def test_pages_of_another_board_answer_404_and_others_403(client, analyst, outsider):
    a = start(analyst)
    client.force_login(outsider)
    url = reverse("reviews:assessment", args=[a.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "submit"}).status_code == 404
    assert str(a.public_id) not in client.get(reverse("reviews:assessments")).content.decode()
    national = _board_user("nisb.analyst", None)
    team_manager = factories.demo_practitioner(
        username="tm", role=Role.TEAM_MANAGER, organisation=national.organisation
    )
    for user in (national, team_manager):
        client.force_login(user)
        assert client.get(reverse("reviews:assessments")).status_code == 403
        assert client.get(url).status_code == 403
        assert client.post(reverse("reviews:assessment-start"), {"framework": RR}).status_code == 403
    assert Assessment.objects.count() == 1
