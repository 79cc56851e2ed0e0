"""Thematic analysis across coded reviews (TA methods on a selection) and the public repository
of published reviews: frequencies, a hand-checked phi through the selection, Bonferroni, the
map's indicators, the too-few-reviews rule, filters, paging, and who may see what."""

from __future__ import annotations

import csv
import html
import io
import math
import re
from datetime import date

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cylch.access.models import BoardArea
from cylch.access.roles import Role
from cylch.reviews import analysis, repository, services
from cylch.reviews.analysis import Filters
from cylch.reviews.models import CodedReview, Incident
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def areas(prydderch):
    """Two board areas: Mid and West Wales (the Prydderch family's) and Gwent."""
    gwent, _ = BoardArea.objects.get_or_create(code="gwent", defaults={"name_en": "Gwent", "name_cy": "Gwent"})
    return prydderch.places.mid_and_west_wales, gwent


@pytest.fixture
def panel(areas):
    """A review panel member of the Mid and West Wales board."""
    board = factories.organisation(
        code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board"
    )
    board.board_area = areas[0]
    board.save()
    return factories.demo_practitioner(username="review.panel", role=Role.REVIEW_PANEL, organisation=board)


@pytest.fixture
def national():
    """A review panel member of the National Independent Safeguarding Board (no board area)."""
    nisb = factories.organisation(code="nisb", kind="national_board", name_en="National Independent Safeguarding Board")
    return factories.demo_practitioner(username="nisb.panel", role=Role.REVIEW_PANEL, organisation=nisb)


def coded(area, reference, codes=(), **fields):
    return analysis.build_coded_review(board_area=area, reference=reference, codes=codes, **fields)


def cells(area, prefix, a, b, counts, **fields):
    """Reviews in the four cells of a 2x2 table of codes ``a`` and ``b``: (both, a only, b only, neither)."""
    made = []
    for (has_a, has_b), n in zip([(1, 1), (1, 0), (0, 1), (0, 0)], counts, strict=True):
        for _ in range(n):
            codes = ([a] if has_a else []) + ([b] if has_b else [])
            made.append(coded(area, f"{prefix}{len(made)}", codes, **fields))
    return made


# --- frequencies -----------------------------------------------------------------------------


def test_indicator_counts_are_of_every_selected_review_most_frequent_first(areas):
    """Three of four reviews record parental drug misuse (75%); one of four records none of the
    harms, so the harm table's not known row counts 1."""
    mww, _gwent = areas
    coded(mww, "A", ["parent.substance_misuse", "parent.mental_health", "harm.sudi"])
    coded(mww, "B", ["parent.substance_misuse", "harm.suicide"])
    coded(mww, "C", ["parent.substance_misuse", "harm.sudi"])
    coded(mww, "D", ["child.neglect"])
    result = analysis.analyse(analysis.select())
    tables = {t.key: t for t in result.indicators}

    parent = tables["parent"]
    assert parent.reviews == 4
    assert [(r.key, r.count, r.percent) for r in parent.rows[:2]] == [
        ("parent.substance_misuse", 3, 75.0),
        ("parent.mental_health", 1, 25.0),
    ]
    assert all(r.count == 0 for r in parent.rows[2:])
    assert "Parental drug or alcohol misuse (3 of 4 reviews, 75.0%)" in parent.reading[0]

    harm = {r.key: r.count for r in tables["harm"].rows}
    assert (harm["harm.sudi"], harm["harm.suicide"], harm["not_known"]) == (2, 1, 1)
    assert tables["harm"].source == "TA table 1"


def test_age_bands_come_from_the_age_in_months_in_both_sets_with_valid_percent(areas):
    """2 months is 0-3 months (Welsh) and under 1 (panel); 12 months is 10-12 months but 1-5
    years; an unknown age is not known and left out of the valid percent."""
    mww, _gwent = areas
    for ref, months in [("A", 2), ("B", 12), ("C", 40), ("D", 150), ("E", None)]:
        coded(mww, ref, child_age_months=months)
    coded(mww, "F", ["age.4_6m"])  # no age in months: the band the coder gave counts (Welsh set only)
    coded(mww, "G", ["age.13_17y", "age_panel.16_plus"], child_age_months=3)  # the age wins over old bands
    result = analysis.analyse(analysis.select())

    welsh = {r.key: r for r in result.age.rows}
    assert [r.key for r in result.age.rows][:3] == ["age.0_3m", "age.4_6m", "age.7_9m"]  # band order
    assert (welsh["age.0_3m"].count, welsh["age.4_6m"].count, welsh["age.10_12m"].count) == (2, 1, 1)
    assert (welsh["age.3_5y"].count, welsh["age.6_12y"].count, welsh["age.13_17y"].count) == (1, 1, 0)
    assert welsh["age.0_3m"].percent == pytest.approx(200 / 7) and welsh["age.0_3m"].valid_percent == 200 / 6
    assert (welsh["not_known"].count, welsh["not_known"].valid_percent) == (1, None)

    panel = {r.key: r.count for r in result.age_panel.rows}
    assert panel == {"age_panel.under_1": 2, "age_panel.1_5y": 2, "age_panel.6_10y": 0, "age_panel.11_15y": 1,
                     "age_panel.16_plus": 0, "not_known": 2}  # fmt: skip
    assert sorted(r.reference for r in repository.search(repository.Query(age_band="age.4_6m"))) == []  # not public
    CodedReview.objects.update(is_public=True)
    assert sorted(r.reference for r in repository.search(repository.Query(age_band="age.4_6m"))) == ["F"]
    assert sorted(r.reference for r in repository.search(repository.Query(age_band="age_panel.16_plus"))) == []
    assert repository.facet_counts(repository.Query())["age_band"]["age.0_3m"] == 2


def test_previous_history_is_table_5_with_not_known_last(areas):
    mww, _gwent = areas
    for ref, history in [("A", "below_threshold"), ("B", "below_threshold"), ("C", "looked_after"), ("D", "not_known")]:
        coded(mww, ref, previous_history=history)
    rows = analysis.analyse(analysis.select()).history.rows
    assert [(r.key, r.count) for r in rows[:2]] == [("below_threshold", 2), ("looked_after", 1)]
    assert (rows[-1].key, rows[-1].count) == ("not_known", 1)
    assert rows[0].valid_percent == pytest.approx(200 / 3)


def test_the_builder_refuses_a_code_not_in_the_code_book(areas):
    with pytest.raises(ValueError, match=r"parent\.typo"):
        coded(areas[0], "X", ["parent.typo"])


# --- selection -------------------------------------------------------------------------------


def test_filters_select_by_board_type_year_and_leave_excluded_out(areas):
    mww, gwent = areas
    coded(mww, "A", type="cpr_concise", incident_on=date(2019, 5, 1), published_on=date(2021, 2, 1))
    coded(mww, "B", type="cpr_extended", incident_on=date(2020, 5, 1), published_on=date(2022, 2, 1))
    coded(gwent, "C", type="cpr_concise", incident_on=date(2021, 5, 1), published_on=None)
    coded(gwent, "D", type="cpr_concise", incident_on=date(2018, 1, 1), excluded=True)

    def refs(**kw):
        return sorted(r.reference for r in analysis.select(Filters(**kw)))

    assert refs() == ["A", "B", "C"]
    assert refs(include_excluded=True) == ["A", "B", "C", "D"]
    assert refs(boards=("gwent",)) == ["C"]
    assert refs(types=("cpr_extended",)) == ["B"]
    assert refs(year_from=2020) == ["B", "C"]
    assert refs(year_from=2020, year_to=2020) == ["B"]
    # By publication year, a review not yet published cannot be placed and is left out.
    assert refs(year_from=2021, year_basis="published") == ["A", "B"]
    assert refs(year_to=2021, year_basis="published") == ["A"]


def test_a_selection_by_a_recorded_code_and_by_age_band(areas, client, panel, demo_hub):
    """Any selection: the reviews recording an indicator, or of children in one age band of
    either set (the age in months decides; a stored band only when the age is not known)."""
    mww, gwent = areas
    coded(mww, "A", ["parent.mental_health"], child_age_months=2)
    coded(mww, "B", ["parent.mental_health", "age.0_3m"], child_age_months=None)
    coded(gwent, "C", ["age.0_3m"], child_age_months=40)  # the stored band is outweighed by the age
    coded(gwent, "D", [], child_age_months=170)

    def refs(**kw):
        return sorted(r.reference for r in analysis.select(Filters(**kw)))

    assert refs(code="parent.mental_health") == ["A", "B"]
    assert refs(age_band="age.0_3m") == ["A", "B"]
    assert refs(age_band="age_panel.under_1") == ["A"]  # B's stored band is of the Welsh set only
    assert refs(age_band="age.13_17y") == ["D"]
    assert refs(code="parent.mental_health", age_band="age.0_3m", boards=("mid-west-wales",)) == ["A", "B"]
    client.force_login(panel)
    page = client.get(reverse("reviews:analysis"), {"code": "parent.mental_health", "age_band": "age.0_3m"})
    text = page.content.decode()
    assert "2 reviews selected" in text and '<option value="parent.mental_health" selected>' in text
    assert "<optgroup" in text
    bad = client.get(reverse("reviews:analysis"), {"code": "parent.nonsense"}).content.decode()
    assert "4 reviews selected" in bad and "govuk-error-message" in bad  # the bad choice is said and left out


# --- phi, Bonferroni, the map ----------------------------------------------------------------


def test_hand_checked_phi_through_the_selection_with_bonferroni(areas):
    """Mental health and ACEs in 20 reviews of Mid and West Wales: both 6, one only 2 and 2, neither
    10. phi = (6*10 - 2*2) / sqrt(8*12*8*12) = 56/96 = 7/12; chi2 = 20 * (7/12)^2 = 6.806;
    p = erfc(sqrt(chi2 / 2)) = 0.00909. Domestic abuse in 3 of them makes 3 indicators, 3 pairs:
    adjusted p = 3 * 0.00909 = 0.0273, significant. Gwent's reviews are not selected."""
    mww, gwent = areas
    reviews = cells(mww, "M", "parent.mental_health", "parent.aces", (6, 2, 2, 10))
    for review in reviews[-3:]:  # three of the "neither" reviews
        review.codes.create(code="parent.domestic_abuse")
    cells(gwent, "G", "parent.mental_health", "parent.aces", (0, 5, 5, 10))  # would make phi negative

    result = analysis.analyse(analysis.select(Filters(boards=("mid-west-wales",))))
    parent = result.associations[0]
    assert (parent.key, parent.reviews, parent.enough, parent.tests) == ("parent", 20, True, 3)
    pair = parent.cell("parent.mental_health", "parent.aces")
    chi2 = 20 * (7 / 12) ** 2
    assert pair.phi == pytest.approx(7 / 12)
    assert pair.p == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))
    assert pair.p == pytest.approx(0.00909, abs=5e-5)
    assert pair.p_adjusted == pytest.approx(3 * pair.p)
    assert pair.significant and pair.stars == "***"
    assert pair.strength == "strong"
    assert "multiplied by the 3 pairs tested" in parent.adjustment
    assert "below 0.017" in parent.adjustment  # .05 / 3
    # Indicators recorded in two reviews or fewer are left out, as in the TA.
    assert [c for c, _label in parent.indicators] == ["parent.mental_health", "parent.aces", "parent.domestic_abuse"]
    assert ("parent.young_parent", "Young parent(s)", 0) in parent.left_out


def test_bonferroni_makes_a_pair_not_significant_when_more_pairs_are_tested(areas):
    """The same 2x2 table with four indicators (6 pairs): adjusted p = 6 * 0.00909 = 0.0545, not
    significant; unadjusted it is still p < .01, so the TA's table marks it **."""
    mww, _gwent = areas
    reviews = cells(mww, "M", "parent.mental_health", "parent.aces", (6, 2, 2, 10))
    for review in reviews[-3:]:
        review.codes.create(code="parent.domestic_abuse")
    for review in reviews[-6:-3]:
        review.codes.create(code="parent.young_parent")
    parent = analysis.analyse(analysis.select()).associations[0]
    pair = parent.cell("parent.mental_health", "parent.aces")
    assert parent.tests == 6
    assert pair.p_adjusted == pytest.approx(6 * pair.p) and pair.p_adjusted > 0.05
    assert not pair.significant and pair.stars == "**"
    assert pair not in parent.significant
    # The TA's own convention multiplies by the number of indicators: 4 * 0.00909 = 0.036, significant.
    ta = analysis.analyse(analysis.select(), adjustment="indicators").associations[0]
    pair = ta.cell("parent.mental_health", "parent.aces")
    assert ta.tests == 4 and pair.p_adjusted == pytest.approx(4 * pair.p) and pair.significant
    assert "multiplied by the number of indicators, 4, not by the 6 pairs tested" in ta.adjustment


def test_the_map_places_only_indicators_with_a_significant_association(areas):
    """Neglect, poor home conditions and physical abuse are recorded together in 8 of 30 reviews;
    bullying is recorded in 4 others, associated with nothing. The map has the three, not bullying."""
    mww, _gwent = areas
    together = ["child.neglect", "child.poor_home_conditions", "child.physical_abuse"]
    for i in range(30):
        codes = together if i < 8 else (["child.bullying"] if i < 12 else [])
        if i == 12:
            codes = ["child.neglect"]  # not perfectly aligned, so distances differ
        coded(mww, f"R{i}", codes)
    child = analysis.analyse(analysis.select()).associations[1]
    assert "child.bullying" in [c for c, _label in child.indicators]  # tested...
    assert child.map is not None
    assert {p.key for p in child.map.points} == set(together)  # ...but not on the map
    assert all(math.isfinite(c) for p in child.map.points for c in (p.x, p.y))
    assert 0 <= child.map.stress <= analysis.GOOD_FIT_STRESS and child.map.good_fit
    assert any("Normalised raw stress" in line for line in child.map.reading)
    # The parental indicators have nothing recorded: no pair, no map, and the reason in words.
    parent = analysis.analyse(analysis.select()).associations[0]
    assert not parent.enough and "Fewer than two" in parent.reason


def test_too_few_reviews_says_so_instead_of_computing_phi(areas):
    mww, _gwent = areas
    for i in range(analysis.MIN_REVIEWS_FOR_ASSOCIATIONS - 1):
        coded(mww, f"R{i}", ["parent.mental_health", "parent.aces"] if i % 2 else [])
    for a in analysis.analyse(analysis.select()).associations:
        assert not a.enough
        assert a.pairs == [] and a.map is None
        assert f"Only {analysis.MIN_REVIEWS_FOR_ASSOCIATIONS - 1} reviews are selected" in a.reason


# --- the public repository -------------------------------------------------------------------


@pytest.fixture
def linked(prydderch, panel, areas):
    """A published coded review linked to a Cylch review of Alys Prydderch, and an unpublished one."""
    mww, _gwent = areas
    referral = services.refer(board_area=mww, child=prydderch.alys, incident=Incident.LIFE_THREATENING,
                              incident_on=date(2026, 9, 15), user=panel, referred_on=date(2026, 9, 20))  # fmt: skip
    review = services.decide(referral, user=panel, review_type="cpr_concise", reasons="Concise as proposed.",
                             scope_from=date(2025, 9, 15))  # fmt: skip
    public = coded(mww, "MWWSB 1/2027", ["theme.professional_curiosity", "child.neglect", "agency.police"],
                   review=review, title="Baby F: learning about missed appointments", child_age_months=2,
                   child_gender="female", incident_on=date(2026, 9, 15), published_on=date(2027, 3, 1),
                   public_summary="Health visitors did not follow up when the baby was not brought.",
                   public_text="The full anonymised review.", is_public=True)  # fmt: skip
    hidden = coded(mww, "MWWSB 2/2027", ["theme.fathers", "child.neglect"], title="Child G: unpublished draft",
                   public_summary="Not yet published: missed appointments.", published_on=date(2027, 4, 1))  # fmt: skip
    return public, hidden


def test_search_never_returns_an_unpublished_entry_or_a_linked_childs_name(client, prydderch, linked):
    public, hidden = linked
    name = prydderch.alys.given_name
    found = repository.search(repository.Query(text="missed appointments"))
    assert [r.reference for r in found] == ["MWWSB 1/2027"]
    assert list(repository.search(repository.Query(theme="theme.fathers"))) == []
    assert list(repository.search(repository.Query(text=name))) == []

    for url in (
        reverse("reviews:repository") + "?q=missed",
        reverse("reviews:repository-entry", args=[public.public_id]),
    ):
        page = client.get(url).content.decode()
        assert "Baby F" in page
        assert "Child G" not in page and "MWWSB 2/2027" not in page
        assert name not in page and prydderch.alys.family_name not in page
        assert "female" not in page.lower()
    assert client.get(reverse("reviews:repository-entry", args=[hidden.public_id])).status_code == 404
    # What leaves the selectors carries no link to the Cylch review.
    entry = repository.entry(public.public_id)
    assert not hasattr(entry, "review") and entry.incident_year == 2026


def test_repository_filters_by_theme_indicator_age_band_board_and_year(areas):
    mww, gwent = areas
    coded(mww, "A", ["theme.fathers", "parent.domestic_abuse"], child_age_months=2, published_on=date(2022, 1, 5),
          is_public=True)  # fmt: skip
    coded(mww, "B", ["theme.fathers"], child_age_months=170, published_on=date(2023, 1, 5), is_public=True)
    coded(gwent, "C", ["parent.domestic_abuse"], child_age_months=30, published_on=date(2023, 6, 5), is_public=True)

    def refs(**kw):
        return sorted(r.reference for r in repository.search(repository.Query(**kw)))

    assert refs() == ["A", "B", "C"]
    assert refs(theme="theme.fathers") == ["A", "B"]
    assert refs(indicator="parent.domestic_abuse") == ["A", "C"]
    assert refs(theme="theme.fathers", indicator="parent.domestic_abuse") == ["A"]
    assert refs(age_band="age.0_3m") == ["A"]
    assert refs(age_band="age_panel.1_5y") == ["C"]  # the other set of bands
    assert refs(age_band="age_panel.11_15y") == ["B"]
    assert refs(board="gwent") == ["C"]
    assert refs(year=2023) == ["B", "C"]
    # Each filter's counts leave that filter out, so the other choices still show what they would find.
    counts = repository.facet_counts(repository.Query(board="gwent"))
    assert counts["board"] == {"mid-west-wales": 2, "gwent": 1}
    assert counts["indicator"]["parent.domestic_abuse"] == 1 and counts["theme"]["theme.fathers"] == 0


def test_repository_pages_ten_at_a_time_keeping_the_search(client, areas):
    mww, _gwent = areas
    for i in range(23):
        coded(mww, f"R{i:02}", ["theme.fathers"], published_on=date(2022, 1, 1 + i), is_public=True,
              title=f"Review number {i:02}")  # fmt: skip
    url = reverse("reviews:repository")
    first = client.get(url, {"theme": "theme.fathers"}).content.decode()
    assert "23 reviews found" in first and "Page 1 of 3" in first
    assert "Review number 22" in first and "Review number 12" not in first  # newest first
    assert "theme=theme.fathers&amp;page=2" in first
    last = client.get(url, {"theme": "theme.fathers", "page": 3}).content.decode()
    assert last.count('class="cylch-event"') == 3 and "Review number 00" in last
    assert client.get(url, {"page": 99}).status_code == 200  # past the end: the last page


def test_repository_search_takes_the_same_queries_for_more_entries(client, areas):
    mww, _gwent = areas
    url = reverse("reviews:repository")
    for i in range(3):
        coded(mww, f"A{i}", ["theme.fathers", "child.neglect"], published_on=date(2022, 1, 1), is_public=True)
    client.get(url)  # warm the code book
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12):
        coded(mww, f"B{i}", ["theme.fathers", "agency.police"], published_on=date(2023, 1, 1), is_public=True)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_repository_is_open_to_anyone_and_in_welsh(client, linked):
    public, _hidden = linked
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "cy"
    page = client.get(reverse("reviews:repository-entry", args=[public.public_id])).content.decode()
    assert '<html lang="cy"' in page
    assert "Esgeulustod" in page  # child.neglect in Welsh
    assert "Heddlu" in page  # agency.police
    assert "0-3 mis" in page and "Dan 1 oed" in page  # the age in both sets of bands
    assert "Canolbarth a Gorllewin Cymru" in page
    assert client.get(reverse("reviews:repository")).status_code == 200


def test_a_welsh_page_shows_the_welsh_summary_else_the_english_marked_as_english(client, linked):
    public, _hidden = linked
    entry_url = reverse("reviews:repository-entry", args=[public.public_id])
    english = "Health visitors did not follow up when the baby was not brought."
    welsh = "Ni wnaeth ymwelwyr iechyd ddilyn y mater pan na ddaethpwyd â'r babi."
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "cy"
    for url in (entry_url, reverse("reviews:repository")):
        page = client.get(url).content.decode()
        assert f'lang="en">{english}' in page.replace("<p>", "")  # marked, for a screen reader's voice
        assert "Heb ei ysgrifennu yn Gymraeg eto." in page
    public.public_summary_cy = welsh
    public.save()
    for url in (entry_url, reverse("reviews:repository")):
        page = client.get(url).content.decode()
        assert html.escape(welsh) in page and english not in page and "Heb ei ysgrifennu" not in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(entry_url).content.decode()
    assert english in page and html.escape(welsh) not in page and 'lang="en">' not in page
    # Either language's words find it, in either language.
    assert [r.reference for r in repository.search(repository.Query(text="ymwelwyr iechyd"))] == ["MWWSB 1/2027"]


# --- the analysis pages ----------------------------------------------------------------------


@pytest.fixture
def spread(areas):
    """Mid and West Wales: one unpublished review; Gwent: one published and one unpublished."""
    mww, gwent = areas
    coded(mww, "MWW-OWN", ["child.neglect"], title="Own board draft")
    coded(gwent, "GW-PUB", ["child.neglect"], title="Gwent published", is_public=True, published_on=date(2023, 1, 1))
    coded(gwent, "GW-DRAFT", ["child.neglect", "parent.aces"], title="Gwent draft")


def test_board_members_see_all_counted_but_other_boards_unpublished_not_listed(client, panel, spread, demo_hub):
    client.force_login(panel)
    page = client.get(reverse("reviews:analysis")).content.decode()
    assert "3 reviews selected" in page
    assert "MWW-OWN" in page and "GW-PUB" in page
    assert "GW-DRAFT" not in page and "Gwent draft" not in page
    assert "1 unpublished review of another board is counted in the figures but not listed." in page
    assert "Only 3 reviews are selected." in page  # no phi for so few
    assert "<svg" in page and 'role="img"' in page
    only_gwent = client.get(reverse("reviews:analysis"), {"boards": "gwent"}).content.decode()
    assert "2 reviews selected" in only_gwent and "MWW-OWN" not in only_gwent


def test_the_analysis_page_takes_the_same_queries_for_more_reviews(client, panel, areas, demo_hub):
    mww, gwent = areas
    client.force_login(panel)
    url = reverse("reviews:analysis")
    coded(mww, "A", ["child.neglect"])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(25):
        coded(gwent if i % 2 else mww, f"B{i}", ["child.neglect", "parent.aces"] if i % 3 else ["theme.fathers"])
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_national_board_members_see_and_list_all_of_wales(client, national, spread, demo_hub):
    client.force_login(national)
    page = client.get(reverse("reviews:analysis")).content.decode()
    assert "All of Wales" in page and "GW-DRAFT" in page and "not listed" not in page


def test_the_page_offers_the_tas_adjustment(client, panel, areas, demo_hub):
    mww, _gwent = areas
    cells(mww, "M", "parent.mental_health", "parent.aces", (6, 2, 2, 10))
    client.force_login(panel)
    url = reverse("reviews:analysis")
    assert "multiplied by the 1 pairs tested" in client.get(url).content.decode()
    page = client.get(url, {"adjustment": "indicators"}).content.decode()
    assert "multiplied by the number of indicators, 2" in page
    assert 'value="indicators" checked' in page


def test_a_bad_year_is_shown_as_an_error_and_left_out(client, panel, spread, demo_hub):
    client.force_login(panel)
    page = client.get(reverse("reviews:analysis"), {"year_from": "2023", "year_to": "2020"}).content.decode()
    assert "There is a problem" in page and "The last year must be the same as or after the first year" in page


def test_the_csv_has_every_table_and_the_phi_pairs(client, panel, areas, demo_hub):
    mww, _gwent = areas
    cells(mww, "M", "parent.mental_health", "parent.aces", (6, 2, 2, 10))
    client.force_login(panel)
    response = client.get(reverse("reviews:analysis-csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [
        "parent",
        "TA figure 3",
        "parent.mental_health",
        "Parental mental health issues",
        "8",
        "40.0",
        "",
        "20",
    ] in rows
    phi = [r for r in rows if r[:3] == ["phi.parent", "parent.mental_health", "parent.aces"]]
    assert phi and float(phi[0][3]) == pytest.approx(7 / 12, abs=1e-6) and phi[0][6] == "1"


def test_the_analysis_page_renders_in_welsh(client, panel, areas, demo_hub):
    mww, _gwent = areas
    for i in range(22):  # three child indicators recorded together in 8 reviews, neglect alone in 2
        codes = ["child.neglect", "child.poor_home_conditions", "child.physical_abuse"] if i < 8 else []
        coded(mww, f"M{i}", ["child.neglect"] if i in (8, 9) else codes)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "cy"
    client.force_login(panel)
    page = client.get(reverse("reviews:analysis")).content.decode()
    assert '<html lang="cy"' in page and "Esgeulustod" in page and "Canolbarth a Gorllewin Cymru" in page
    assert "cylch-chart--map" in page  # the map of co-occurring child indicators


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.TEAM_MANAGER])
def test_others_are_refused_the_analysis(client, prydderch, role, demo_hub):
    user = factories.demo_practitioner(username=f"x.{role}", role=role, organisation=prydderch.orgs.childrens_services)
    client.force_login(user)
    assert client.get(reverse("reviews:analysis")).status_code == 403
    assert client.get(reverse("reviews:analysis-csv")).status_code == 403


def test_a_board_role_in_an_agency_without_a_board_area_is_refused(client, demo_hub, db):
    org = factories.organisation(code="wg", kind="third_sector")
    user = factories.demo_practitioner(username="wg.analyst", role=Role.BOARD_ANALYST, organisation=org)
    client.force_login(user)
    assert client.get(reverse("reviews:analysis")).status_code == 403


def test_anonymous_users_are_sent_to_sign_in_for_the_analysis_not_the_repository(client, db):
    response = client.get(reverse("reviews:analysis"))
    assert response.status_code == 302 and "/sign-in" in response["Location"]
    assert client.get(reverse("reviews:repository")).status_code == 200


# --- the map as SVG --------------------------------------------------------------------------


def test_the_map_is_an_accessible_svg_with_numbered_labelled_points_and_no_style():
    """role="img" named by its <title> and <desc>; every point a circle with "n. label"; text
    escaped; no style attribute (the Content-Security-Policy refuses them)."""
    from cylch.reviews.analysis_charts import MapPoint, mds_map

    points = [MapPoint("Neglect", 0.2, 0.1), MapPoint("Poor home conditions", 0.18, 0.12),
              MapPoint("A & <b>", -0.3, -0.05)]  # fmt: skip
    svg = str(mds_map(points, title="Map: child", stress=0.031))
    assert svg.startswith("<svg") and 'role="img"' in svg and "style=" not in svg
    prefix = re.search(r'aria-labelledby="([\w-]+)-title \1-desc"', svg).group(1)
    assert f'<title id="{prefix}-title">Map: child</title>' in svg
    assert "Normalised raw stress 0.031." in svg
    assert svg.count("<circle") == 3
    assert "1. Neglect" in svg and "3. A &amp; &lt;b&gt;" in svg and "<b>" not in svg
    assert str(mds_map(points, title="Map: child", stress=0.031)) == svg  # the same input, the same bytes
    # One scale for both axes: the frame is square.
    frame = re.search(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="([\d.]+)"', svg)
    assert frame.group(1) == frame.group(2)


def test_no_page_has_a_style_attribute(client, panel, linked, demo_hub):
    public, _hidden = linked
    assert "style=" not in client.get(reverse("reviews:repository")).content.decode()
    assert "style=" not in client.get(reverse("reviews:repository-entry", args=[public.public_id])).content.decode()
    client.force_login(panel)
    assert "style=" not in client.get(reverse("reviews:analysis")).content.decode()


def test_figure_8_counts_every_finding_and_reads_as_learning(areas):
    """TA figure 8: the five findings its recommendations name, most frequent first, read as the
    reviews' lessons rather than as what agencies knew."""
    mww = areas[0]
    coded(mww, "F1", ["finding.whole_family", "finding.child_voice", "parent.mental_health", "theme.fathers"])
    coded(mww, "F2", ["finding.whole_family", "finding.health_information_sharing"])
    coded(mww, "F3", [])
    result = analysis.analyse(analysis.select(Filters()))
    tables = {t.key: t for t in result.indicators}
    figure = tables["finding"]
    assert figure.source == "TA figure 8"
    assert [(r.key, r.count) for r in figure.rows] == [
        ("finding.whole_family", 2), ("finding.child_voice", 1), ("finding.health_information_sharing", 1),
        ("finding.missed_health_appointments", 0), ("finding.professional_curiosity", 0),
    ]  # fmt: skip
    assert len(figure.rows) == 5 and figure.reviews == 3
    assert "lessons the reviews drew" in " ".join(figure.reading)
    assert "things agencies knew" in " ".join(tables["parent"].reading)
    assert "lessons the reviews drew" in " ".join(tables["theme"].reading)
