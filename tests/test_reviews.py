"""Safeguarding reviews: the proposed type on both sides of the 6-month boundary, the chair's
decision and the review's period, the timeline's warnings, repeat referrals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cylch.access.roles import Role
from cylch.reviews import services
from cylch.reviews.models import Incident
from tests import factories

pytestmark = pytest.mark.django_db
INCIDENT = date(2026, 9, 15)


@pytest.fixture
def panel(prydderch):
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None)  # fmt: skip
    board.board_area = prydderch.places.mid_and_west_wales
    board.save()
    return factories.demo_practitioner(username="review.chair", role=Role.REVIEW_PANEL, organisation=board)


def _status(p, code, day: date, details=None):
    return factories.event(organisation=p.orgs.childrens_services, person=p.alys, code=code, occurred_at=factories.at(day),
                           details=details if details is not None else factories.minimal_details(code))  # fmt: skip


@pytest.mark.parametrize(
    ("registered", "ended", "proposed"),
    [
        (date(2025, 1, 10), date(2026, 3, 16), "cpr_extended"),  # ended a day inside the 6 months
        (date(2025, 1, 10), date(2026, 3, 14), "cpr_concise"),  # ended a day before they began
        (date(2026, 9, 1), None, "cpr_extended"),  # registered inside the window, still on
        (date(2026, 9, 16), None, "cpr_concise"),  # registered the day after the incident
    ],
)
def test_extended_when_on_the_register_in_the_6_months_before_the_incident(prydderch, registered, ended, proposed):
    p = prydderch
    _status(p, "process.register.registered", registered, {"categories": ["neglect"]})
    if ended:
        _status(p, "process.register.deregistered", ended, {"reason": "review_conference_decision"})
    got = services.propose(child=p.alys, incident=Incident.LIFE_THREATENING, incident_on=INCIDENT)
    assert got.window == (date(2026, 3, 15), INCIDENT)
    assert got.type == proposed
    assert any(r.startswith("On the child protection register at some time") for r in got.reasons) == (
        proposed == "cpr_extended"
    )


def test_looked_after_counts_and_impairment_counts_from_when_it_was_identified(prydderch):
    p = prydderch
    _status(p, "social_care.looked_after.started", date(2025, 6, 1))
    _status(p, "social_care.looked_after.ended", date(2025, 12, 1))
    assert services.propose(child=p.alys, incident=Incident.DIED, incident_on=INCIDENT).type == "cpr_concise"
    got = services.propose(child=p.alys, incident=Incident.IMPAIRMENT, incident_on=INCIDENT,
                           impairment_identified_on=date(2026, 5, 20))  # fmt: skip
    assert got.type == "cpr_extended" and got.window[0] == date(2025, 11, 20)
    assert any("Looked after" in r for r in got.reasons)


def test_the_chair_decides_with_reasons_and_the_period_rules(prydderch, panel):
    p = prydderch
    first = services.refer(board_area=p.places.mid_and_west_wales, child=p.alys, incident=Incident.LIFE_THREATENING,
                           incident_on=INCIDENT, user=panel, referred_on=date(2026, 9, 20))  # fmt: skip
    second = services.refer(board_area=p.places.mid_and_west_wales, child=p.alys, incident=Incident.LIFE_THREATENING,
                            incident_on=INCIDENT, user=panel, referred_on=date(2026, 10, 1))  # fmt: skip
    assert services.earlier_referrals(second) == [first]
    with pytest.raises(PermissionDenied):
        services.decide(
            first, user=p.staff.social_worker, review_type="cpr_concise", reasons="x", scope_from=date(2025, 9, 15)
        )
    with pytest.raises(ValidationError) as err:  # 18 months back without a rationale
        services.decide(
            first, user=panel, review_type="cpr_concise", reasons="Criteria met", scope_from=date(2025, 3, 15)
        )
    assert "scope_rationale" in err.value.message_dict
    with pytest.raises(ValidationError) as err:  # beyond 2 years: refused
        services.decide(first, user=panel, review_type="cpr_concise", reasons="Criteria met", scope_from=date(2024, 9, 1),
                        scope_rationale="Long history")  # fmt: skip
    assert "scope_from" in err.value.message_dict
    review = services.decide(first, user=panel, review_type="cpr_concise", reasons="Criteria met; concise as proposed",
                             scope_from=date(2025, 3, 15), scope_rationale="The neglect began before the move", on=date(2026, 10, 5))  # fmt: skip
    assert review.completion_due_on == date(2027, 3, 20)  # 6 months from the referral
    steps = [m.step for m in review.milestones.all()]
    assert steps[0] == "decision" and "sign_off" in steps and "publication" in steps
    assert review.milestones.get(step="decision").done_on == date(2026, 10, 5)


def test_timeline_warnings_and_delay_reasons(prydderch, panel):
    p = prydderch
    today = timezone.localdate()
    referral = services.refer(board_area=p.places.mid_and_west_wales, child=p.alys, incident=Incident.DIED,
                              incident_on=today - timedelta(days=200), user=panel, referred_on=today - timedelta(days=190))  # fmt: skip
    review = services.decide(referral, user=panel, review_type="cpr_extended", reasons="On the register",
                             scope_from=today - timedelta(days=500))  # fmt: skip
    found = services.warnings()
    kinds = {(w.milestone.step if w.milestone else None, w.kind) for w in found}
    assert ("panel", "overdue") in kinds and (None, "completion_overdue") in kinds
    panel_step = review.milestones.get(step="panel")
    with pytest.raises(ValidationError) as err:
        services.record_milestone(panel_step, user=panel, done_on=today - timedelta(days=10))
    assert "delay_reason" in err.value.message_dict
    services.record_milestone(panel_step, user=panel, done_on=today - timedelta(days=10), delay_reason="reviewer_availability",
                              delay_note="No reviewer free until the summer")  # fmt: skip
    assert ("panel", "overdue") not in {
        (w.milestone.step if w.milestone else None, w.kind) for w in services.warnings()
    }


def test_the_three_shipped_processes_and_the_forum_are_configured():
    cfg = services.config()
    assert set(cfg["types"]) == {"cpr_concise", "cpr_extended", "susr", "mapf"}
    for key, spec in cfg["types"].items():
        assert spec["label"]["en"] and spec["label"]["cy"] and spec["steps"], key
        assert len({s["key"] for s in spec["steps"]}) == len(spec["steps"]), key
    assert cfg["scope"] == {"normal_months": 12, "maximum_months": 24}


def test_the_review_pages_from_referral_to_a_recorded_date(client, prydderch, panel, demo_hub):
    from django.urls import reverse

    from cylch.reviews.models import Referral

    p = prydderch
    _status(p, "process.register.registered", date(2026, 6, 1), {"categories": ["neglect"]})
    client.force_login(panel)
    client.cookies["cylch_language"] = "en"
    assert client.get(reverse("reviews:board")).status_code == 200
    response = client.post(reverse("reviews:refer"), {"child": str(p.alys.public_id), "incident": Incident.LIFE_THREATENING,
                                                       "incident_on": "15/09/2026", "referred_on": "20/09/2026",
                                                       "abuse_or_neglect": "yes"})  # fmt: skip
    referral = Referral.objects.get()
    assert referral.abuse_or_neglect == "yes"
    assert response.url == reverse("reviews:referral", args=[referral.public_id])
    page = client.get(response.url).content.decode()
    assert (
        "Extended Child Practice Review" in page
        and "On the child protection register at some time in the 6 months before (15/03/2026 to 15/09/2026)" in page
        and "Yes: abuse or neglect is known or suspected" in page
    )
    decided = client.post(
        response.url, {"review_type": "cpr_extended", "reasons": "On the register", "scope_from": "15/09/2025"}
    )
    review = referral.review
    assert decided.url == reverse("reviews:review", args=[review.public_id])
    page = client.get(decided.url).content.decode()
    assert "Learning event" in page and "Interim reflection event" in page
    panel_step = review.milestones.get(step="panel")
    late = client.post(decided.url, {"milestone": panel_step.public_id, "done_on": "30/11/2026"})
    assert "give the reason for the delay" in late.content.decode()
    client.post(
        decided.url,
        {"milestone": panel_step.public_id, "done_on": "30/11/2026", "delay_reason": "reviewer_availability"},
    )
    panel_step.refresh_from_db()
    assert panel_step.done_on == date(2026, 11, 30)
    # A practitioner is not a member of the review sub-group.
    client.force_login(p.staff.social_worker)
    assert client.get(reverse("reviews:board")).status_code == 403


@pytest.mark.parametrize(
    ("abuse_or_neglect", "proposed", "asks"),
    [
        ("no", "mapf", False),  # the criteria are not met: a professional forum
        ("yes", "cpr_concise", False),
        ("", "cpr_concise", True),  # not yet known: the proposal says it is needed
    ],
)
def test_a_professional_forum_when_abuse_or_neglect_is_neither_known_nor_suspected(
    prydderch, abuse_or_neglect, proposed, asks
):
    got = services.propose(child=prydderch.alys, incident=Incident.DIED, incident_on=INCIDENT,
                           abuse_or_neglect=abuse_or_neglect)  # fmt: skip
    assert got.type == proposed
    assert any("criteria for a Child Practice Review are not met" in r for r in got.reasons) == (proposed == "mapf")
    assert any("is not recorded yet" in r for r in got.reasons) == asks


def test_the_forum_proposal_is_kept_with_the_referral(prydderch, panel):
    referral = services.refer(board_area=prydderch.places.mid_and_west_wales, child=prydderch.alys, incident=Incident.DIED,
                              incident_on=INCIDENT, user=panel, referred_on=date(2026, 9, 20), abuse_or_neglect="no")  # fmt: skip
    assert (referral.proposed_type, referral.abuse_or_neglect) == ("mapf", "no")
    with pytest.raises(ValidationError) as err:
        services.refer(board_area=prydderch.places.mid_and_west_wales, child=None, incident=Incident.DIED,
                       incident_on=INCIDENT, user=panel, abuse_or_neglect="perhaps")  # fmt: skip
    assert "abuse_or_neglect" in err.value.message_dict
