"""The statutory path in the browser, by the people who do each step: the social worker
records the strategy discussion and the enquiry and invites; the GP sends a report; the
conference chair records the conference in Welsh; the social worker circulates and builds the
plan; the school records progress; the core group meets; the review conference removes the
child from the register. axe-core checks every page on the way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.access.roles import Role
from cylch.protection.models import Episode, MeetingKind
from cylch.protection.register import current, history
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD

sign_in = signin.signer(language="en")


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    chair = factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                        organisation=fam.orgs.childrens_services, first_name="Menna", last_name="Huws")  # fmt: skip
    for user in (fam.staff.social_worker, fam.staff.gp, fam.staff.school_lead, chair, fam.staff.team_manager):
        user.set_password(PASSWORD)
        user.save()
    return live_server.url, fam, chair


def day(n: int) -> str:
    return (timezone.localdate() - timedelta(days=n)).strftime("%d/%m/%Y")


def submit(page):
    page.locator("main form button[type=submit]").last.click()


def test_report_to_deregistration_by_each_role(page, hub):
    url, fam, chair = hub
    child = f"{url}/people/{fam.alys.public_id}/protection/"

    # Social worker: start, strategy discussion, section 47.
    sign_in(page, url, fam.staff.social_worker.username)
    page.goto(child)
    assert_accessible(page, "protection-child-start")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Record the strategy discussion")
    assert_accessible(page, "protection-strategy-form")
    page.locator("[name=held_on]").fill(day(60))
    page.locator("[name=held_time]").fill("10:30")
    page.check("input[name=format][value=virtual]")
    for i in range(page.locator("input[name^=took_][value=yes]").count()):
        page.check(f"input[name=took_{i}][value=yes]")
    page.locator("[name=information_shared]").fill("Bruising seen at school; two police notices at the home.")
    page.check("input[name=decision][value=section_47_enquiries]")
    page.locator("[name=reasons]").fill("Reasonable cause to suspect significant harm.")
    submit(page)
    expect(page.locator(".govuk-notification-banner, .govuk-summary-list").first).to_be_visible()
    episode = Episode.objects.get(child=fam.alys)
    page.goto(f"{url}/protection/episodes/{episode.public_id}/enquiry/")
    assert_accessible(page, "protection-enquiry")
    page.check("input[name=outcome][value=substantiated_at_risk]")
    page.locator("[name=findings]").fill("Neglect substantiated; emotional harm from domestic abuse.")
    page.locator("[name=concluded_on]").fill(day(57))
    page.check("input[name=seen_alone][value=yes]")
    submit(page)
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    page.goto(f"{url}/protection/meetings/{icpc.public_id}/")
    expect(page.get_by_text("Must be invited").first).to_be_visible()
    page.locator("form:has(input[value=invite]) button").click()
    expect(page.get_by_text("Invitations sent")).to_be_visible()
    assert_accessible(page, "protection-conference-invited")

    # GP: the written report.
    sign_in(page, url, fam.staff.gp.username)
    page.goto(f"{url}/protection/meetings/{icpc.public_id}/")
    page.get_by_role("link", name="Write your agency's report").click()
    assert_accessible(page, "protection-agency-report")
    page.locator("[name=text]").fill("Alys has missed two immunisations; her weight has dropped from the 50th centile.")
    submit(page)

    # Conference chair, in Welsh: the conference and its decision.
    sign_in(page, url, chair.username, "cy")
    page.goto(f"{url}/protection/meetings/{icpc.public_id}/record/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    page.locator("[name=held_on]").fill(day(50))
    page.locator("[name=held_time]").fill("14:00")
    page.check("input[name=format][value=hybrid]")
    page.check("input[name=language][value=cy]")
    for box in page.locator("input[name=attended]").all():
        box.check()
    page.check("input[name=decision][value=registered]")
    page.check("input[name=categories][value=neglect]")
    page.check("input[name=categories][value=emotional]")
    page.locator("[name=reasons]").fill("Mae risg barhaus o niwed sylweddol.")
    page.locator("[name=record]").fill("Cofnod y gynhadledd: pawb yn cytuno.")
    assert_accessible(page, "protection-conference-record-cy")
    submit(page)
    assert current(fam.alys).categories == ["emotional", "neglect"]
    assert_accessible(page, "protection-conference-held-cy")

    # Social worker: circulate, build the plan.
    sign_in(page, url, fam.staff.social_worker.username)
    page.goto(f"{url}/protection/meetings/{icpc.public_id}/circulate/?document=decisions")
    assert_accessible(page, "protection-circulate")
    submit(page)
    plan = episode.plans.get(kind="cspp")
    page.goto(f"{url}/protection/plans/{plan.public_id}/")
    page.locator("form:has(input[value=plan]) [name=worries]").fill("Alys often arrives at school hungry and tired.")
    page.locator("form:has(input[value=plan]) [name=outcomes]").fill("Alys eats breakfast every day and sleeps well.")
    page.locator("form:has(input[value=plan]) [name=child_can_do]").fill(
        "Tell Mrs Jenkins at school, or ring Childline."
    )
    page.locator("form:has(input[value=plan]) [name=contingency]").fill(
        "If Alys is absent two days running, a strategy discussion."
    )
    page.locator("form:has(input[value=plan]) button").click()
    page.locator("form:has(input[value=action]) [name=text]").fill("Breakfast club place for Alys")
    page.locator("form:has(input[value=action]) [name=owner]").select_option(str(fam.orgs.school.pk))
    page.locator("form:has(input[value=action]) [name=due_on]").fill(
        (timezone.localdate() + timedelta(days=21)).strftime("%d/%m/%Y")
    )
    page.locator("form:has(input[value=action]) button").click()
    expect(page.get_by_role("cell", name="Breakfast club place for Alys", exact=True)).to_be_visible()
    assert_accessible(page, "protection-plan")

    # School: progress on its action, seen on a phone.
    sign_in(page, url, fam.staff.school_lead.username)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/protection/plans/{plan.public_id}/")
    page.get_by_role("link", name=re.compile("Record progress")).click()
    page.check("input[name=status][value=on_track]")
    page.locator("[name=note]").fill("Alys started breakfast club on Monday.")
    submit(page)
    expect(page.get_by_text("Alys started breakfast club on Monday.")).to_be_visible()
    assert_accessible(page, "protection-plan-school-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Core group, minuted by the school.
    core = episode.meetings.get(kind=MeetingKind.CORE_GROUP, held_at__isnull=True)
    page.goto(f"{url}/protection/meetings/{core.public_id}/")
    page.get_by_role("link", name="Record the core group").click()
    page.locator("[name=held_on]").fill(day(45))
    page.check("input[name=format][value=in_person]")
    for box in page.locator("input[name=attended]").all():
        box.check()
    page.locator("[name=chaired_by]").select_option(str(fam.orgs.childrens_services.pk))
    page.locator("[name=minuted_by]").select_option(str(fam.orgs.school.pk))
    page.check("input[name=progress][value=some]")
    page.locator("[name=notes]").fill("Breakfast club going well; home conditions still poor.")
    assert_accessible(page, "protection-core-group-form")
    submit(page)

    # Social worker: the consolidated assessment and a visit.
    sign_in(page, url, fam.staff.social_worker.username)
    page.goto(f"{url}/protection/episodes/{episode.public_id}/assessment/")
    page.locator("form:has(input[value=contribution]) [name=text]").fill(
        "Home visits show the kitchen bare twice this month."
    )
    page.locator("form:has(input[value=contribution]) button").click()
    expect(page.get_by_text("Home visits show the kitchen bare twice this month.")).to_be_visible()
    assert_accessible(page, "protection-assessment")
    page.goto(f"{url}/protection/episodes/{episode.public_id}/visits/new/")
    page.locator("[name=visited_on]").fill(day(40))
    page.check("input[name=seen][value=yes]")
    page.check("input[name=seen_alone][value=yes]")
    page.check("input[name=at_home][value=yes]")
    assert_accessible(page, "protection-visit-form")
    submit(page)
    expect(page.get_by_text("Visit recorded.")).to_be_visible()

    # Review conference: removal refused without needs and contingency, then done.
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    sign_in(page, url, chair.username)
    page.goto(f"{url}/protection/meetings/{review.public_id}/record/")
    page.locator("[name=held_on]").fill(day(5))
    page.check("input[name=format][value=in_person]")
    page.check("input[name=language][value=en]")
    page.check("input[name=decision][value=deregistered]")
    page.locator("[name=reasons]").fill("The plan's outcomes are met.")
    page.locator("[name=progress]").fill("Alys is eating and sleeping well; attendance 96%.")
    page.locator("[name=risk_of_future_harm]").fill("Low.")
    page.locator("[name=record]").fill("Review conference record.")
    submit(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("eligible care and support needs")
    assert_accessible(page, "protection-review-refused")
    page.locator("[name=eligible_needs]").fill("Early help: parenting programme; health visitor contact for Twm.")
    page.locator("[name=contingency]").fill("Any new injury or two days' absence: strategy discussion.")
    submit(page)
    assert current(fam.alys) is None and len(history(fam.alys)) == 1

    # Team manager: the child's page and the team's dates, in Welsh.
    sign_in(page, url, fam.staff.team_manager.username, "cy")
    page.goto(child)
    assert_accessible(page, "protection-child-after-cy")
    page.goto(f"{url}/protection/due/")
    assert_accessible(page, "protection-due-cy")
