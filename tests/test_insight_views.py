"""The dashboards, the drill-down and the data return, through HTTP."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cylch.access.roles import Role
from cylch.insight import areas, periods
from cylch.insight.compute import figures
from cylch.insight.measures import BY_ID, MEASURES
from cylch.reports.models import Report
from tests import factories
from tests.openapi_check import assert_declared, openapi_document
from tests.test_insight_measures import _report

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst(prydderch):
    return factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=factories.organisation(
        code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
        name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None))  # fmt: skip


def _reports(p, n_on_time: int, n_late: int):
    received = timezone.now() - timedelta(days=40)
    made = [_report(p, received) for _ in range(n_on_time + n_late)]
    for r in made[:n_on_time]:
        Report.objects.filter(pk=r.pk).update(feedback_sent_at=r.received_at + timedelta(hours=4))
    for r in made[n_on_time:]:
        late = datetime.combine(r.feedback_due_on + timedelta(days=3), time(10), tzinfo=timezone.get_current_timezone())
        Report.objects.filter(pk=r.pk).update(feedback_sent_at=late)
    return made


def test_every_measure_page_renders_with_its_charts_and_table(client, prydderch, analyst, demo_hub):
    _reports(prydderch, 6, 6)
    client.force_login(analyst)
    index = client.get(reverse("insight:index"))
    assert index.status_code == 200
    for m in MEASURES:
        page = client.get(reverse("insight:measure", args=[m.id]), {"area": "ceredigion"})
        assert page.status_code == 200, m.id
        body = page.content.decode()
        assert body.count("<svg") == 2 and "The figures in the chart" in body and "Area(" not in body, m.id
    # The analyst sees figures, never the records behind them.
    assert "The records behind the figures" not in body
    quarter = periods.containing(timezone.localdate() - timedelta(days=40))
    assert client.get(reverse("insight:records", args=["report-feedback-7wd"]),
                      {"area": "ceredigion", "period": quarter.key}).status_code == 404  # fmt: skip


def test_dashboard_table_return_and_api_agree_to_the_unit(client, prydderch, analyst, demo_hub, api_client):
    p = prydderch
    _reports(p, 6, 7)
    quarter = periods.containing(timezone.localdate() - timedelta(days=40))
    m = BY_ID["report-feedback-7wd"]
    [fig] = [f for f in figures(m, [quarter], [areas.find("ceredigion")], by_group=False)]
    assert (fig.numerator, fig.denominator) == (6, 13)
    client.force_login(analyst)
    response = client.get(reverse("insight:return"), {"measures": [m.id], "period": quarter.key,
                                                       "area_kinds": ["wales", "board", "la"], "format": "csv"})  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    ceredigion = next(r for r in rows if r["area_code"] == "ceredigion" and r["group"] == "")
    assert (ceredigion["numerator"], ceredigion["denominator"], ceredigion["value"], ceredigion["suppressed"]) == (
        "6", "13", "46.2", "no")  # fmt: skip
    carms = next(r for r in rows if r["area_code"] == "carmarthenshire")
    assert carms["denominator"] == "0"
    xlsx = client.get(reverse("insight:return"), {"measures": [m.id], "period": quarter.key, "area_kinds": ["la"],
                                                   "format": "xlsx"})  # fmt: skip
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header = [c.value for c in sheet[1]]
    values = {r[header.index("area_code")]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["ceredigion"][header.index("numerator")] == 6
    bad = client.get(
        reverse("insight:return"), {"measures": [m.id], "period": "2026-Q9", "area_kinds": ["la"], "format": "csv"}
    )
    assert bad.status_code == 200 and "Give the period as a quarter" in bad.content.decode()


def test_the_authoritys_team_manager_may_drill_down_to_its_own_records(client, prydderch, demo_hub):
    p = prydderch
    made = _reports(p, 5, 5)
    quarter = periods.containing(timezone.localdate() - timedelta(days=40))
    client.force_login(p.staff.team_manager)
    client.cookies["cylch_language"] = "en"
    page = client.get(reverse("insight:measure", args=["report-feedback-7wd"]), {"area": "ceredigion"}).content.decode()
    assert "The records behind the figures" in page
    listed = client.get(
        reverse("insight:records", args=["report-feedback-7wd"]), {"area": "ceredigion", "period": quarter.key}
    )
    assert listed.status_code == 200
    body = listed.content.decode()
    assert all(r.reference in body for r in made)
    # Not another authority's.
    assert client.get(reverse("insight:records", args=["report-feedback-7wd"]),
                      {"area": "carmarthenshire", "period": quarter.key}).status_code == 404  # fmt: skip


def test_the_measures_api_gives_the_dashboard_figures(prydderch, api_client):
    p = prydderch
    _reports(p, 6, 7)
    quarter = periods.containing(timezone.localdate() - timedelta(days=40))
    client = api_client(p.orgs.childrens_services)
    listing = client.get("/api/v1/measures").json()
    assert {m["id"] for m in listing} == {m.id for m in MEASURES}
    body = client.get(f"/api/v1/measures/report-feedback-7wd?area=ceredigion&period={quarter.key}").json()
    [whole] = [f for f in body["figures"] if f["group"] == ""]
    assert (whole["numerator"], whole["denominator"], round(whole["value"], 1), whole["suppressed"]) == (
        6,
        13,
        46.2,
        False,
    )
    small = client.get(f"/api/v1/measures/escalations?area=ceredigion&period={quarter.key}").json()
    assert small["figures"][0]["numerator"] in (0, None)
    assert client.get("/api/v1/measures/nope").status_code == 404
    assert client.get("/api/v1/measures/report-feedback-7wd?period=2026-Q9").status_code == 422
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/measures/{measure_id}" in schema["paths"]


def test_the_measures_api_without_a_token_is_a_declared_401(client):
    """Found by schemathesis: every operation needs a token, but the measures did not say so."""
    document = openapi_document(client)
    for path, url in (("/api/v1/measures", "/api/v1/measures"),
                      ("/api/v1/measures/{measure_id}", "/api/v1/measures/report-feedback-7wd")):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 401
        assert_declared(document, "get", path, response)


def test_a_board_analyst_starts_on_their_own_board_area(client, prydderch, analyst):
    """Without an area chosen, the measure page shows Wales and the analyst's board area."""
    board = analyst.organisation
    board.board_area = prydderch.places.mid_and_west_wales
    board.save()
    client.force_login(analyst)
    client.cookies["cylch_language"] = "en"
    body = client.get(reverse("insight:measure", args=["icpc-in-time"])).content.decode()
    assert f'<option value="{prydderch.places.mid_and_west_wales.code}" selected>' in body
    assert "Why it matters" in body and "A child at risk should not wait" in body
