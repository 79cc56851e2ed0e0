"""What a chronology read costs, and that making it cheaper changed nothing anyone sees.

The page and the API read a family's chronology in a fixed number of queries however many
entries it has (an N+1 would show at the hub's scale long before a test noticed the time), and
the entries, built in Python since the template engine was four tenths of the page's time
(``cylch.chronology.rendering``), read exactly as the template that built them did.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.template import Context, engines
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from cylch.access.roles import OrganisationKind, Role
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.forms import MarkForm
from cylch.chronology.rendering import render_groups
from cylch.chronology.selectors import chronology
from cylch.chronology.services import significance_toggle
from tests import factories
from tests.factories import at

# ``chronology/_entry.html`` as it was before the entries were built in Python (commit 515175f),
# kept here as the reference the Python rendering must match character for character. A change
# to how an entry looks is made in ``rendering.py`` and here together.
ENTRY_TEMPLATE = """{% load i18n cylch_tags voice_tags %}{% comment %}One group of the chronology (one entry, or repeated similar ones). Pass group, chron, person, mark_form, next.{% endcomment %}
{% with entry=group.lead %}
<li class="cylch-event{% if entry.significant %} cylch-event--significant{% endif %}" id="entry-{{ entry.event.public_id }}">
  <p class="govuk-body govuk-!-margin-bottom-1">
    <strong>{% if group.count > 1 %}{% if group.same_month %}{{ group.newest|date:"F Y" }}{% else %}<time datetime="{{ group.oldest|date:'Y-m' }}">{{ group.oldest|date:"M Y" }}</time> – <time datetime="{{ group.newest|date:'Y-m' }}">{{ group.newest|date:"M Y" }}</time>{% endif %}{% else %}<time datetime="{{ entry.occurred_at|date:'c' }}">{{ entry.occurred_at|date:"j E Y" }}</time>{% endif %}</strong>
    {% if chron.whole_family %}<span class="cylch-event__who">{{ entry.who }}</span>{% endif %}
    {% if entry.withheld %}<strong class="govuk-tag cylch-tag--withheld">{% translate "Withheld" %}</strong>{% else %}<span class="govuk-tag govuk-tag--grey">{{ entry.category_label }}</span>{% endif %}
    {% if entry.significant %}<strong class="govuk-tag govuk-tag--red">{% translate "Significant" %}</strong>{% endif %}
  </p>
  {% if entry.withheld %}
    <p class="govuk-body govuk-!-margin-bottom-1">{% if group.count > 1 %}{% blocktranslate count counter=group.count with org=entry.organisation_name role=entry.contact_role %}{{ counter }} entry withheld: recorded by {{ org }}. Contact their {{ role }}{% plural %}{{ counter }} entries withheld: recorded by {{ org }}. Contact their {{ role }}{% endblocktranslate %}{% else %}{% blocktranslate with org=entry.organisation_name date=entry.occurred_at|date:"j E Y" role=entry.contact_role %}Withheld: recorded by {{ org }} on {{ date }}. Contact their {{ role }}{% endblocktranslate %}{% endif %}{% if entry.contact %}: {{ entry.contact }}{% endif %}.</p>
  {% else %}
    <p class="govuk-body govuk-!-margin-bottom-1">{% if group.count > 1 %}<strong>{{ group.count }} ×</strong> {% endif %}{{ entry.label }}{% if entry.event.supersedes_id %} <span class="govuk-tag govuk-tag--yellow">{% translate "Corrected" %}</span> <a class="govuk-link govuk-body-s" href="{% url 'governance:versions' person.public_id entry.event.public_id %}">{% translate "Every version" %}<span class="govuk-visually-hidden"> {{ entry.label }}</span></a>{% endif %}</p>
    {% if group.count == 1 %}
      {% if entry.shows_content and entry.event.summary %}<p class="govuk-body govuk-!-margin-bottom-1 cylch-event__summary">{{ entry.event.summary }}</p>{% endif %}
      {% if entry.shows_content and entry.category == "voice" %}{% with heard=entry.event.details|how_heard %}{% if heard or entry.event.details.outcome %}<p class="govuk-body-s govuk-!-margin-bottom-1">{% if entry.event.details.outcome %}{{ entry.event.details|outcome_label }}{% if entry.event.details.follow_up_on %}. {% blocktranslate with date=entry.event.details.follow_up_on %}Follow up by {{ date }}.{% endblocktranslate %}{% endif %}{% else %}{{ heard|join:" · " }}{% endif %}</p>{% endif %}{% endwith %}
      {% elif entry.shows_content and entry.event.details %}<dl class="govuk-summary-list govuk-summary-list--no-border govuk-!-margin-bottom-1">{% for key, value in entry.event.details|detail_items %}<div class="govuk-summary-list__row"><dt class="govuk-summary-list__key govuk-!-font-size-16">{{ key }}</dt><dd class="govuk-summary-list__value govuk-!-font-size-16">{{ value }}</dd></div>{% endfor %}</dl>
      {% elif entry.level == "S" %}<p class="govuk-hint govuk-!-margin-bottom-1">{% translate "Summary only: ask the recording agency for the details." %}</p>{% endif %}
      <p class="govuk-body-s govuk-!-margin-bottom-1">{% blocktranslate with org=entry.organisation_name %}Recorded by {{ org }}{% endblocktranslate %}{% if entry.shows_content and entry.event.recorder_name %} – {{ entry.event.recorder_name }}{% if entry.event.recorder_role %}, {{ entry.event.recorder_role }}{% endif %}{% endif %}. {% translate "Contact" %}: {% if entry.shows_content and entry.event.recorder_contact %}{{ entry.event.recorder_contact }}{% else %}{{ entry.contact_role }}{% if entry.contact %}, {{ entry.contact }}{% endif %}{% endif %}</p>
      {% if entry.mark %}<p class="govuk-body-s govuk-!-margin-bottom-1">{% blocktranslate with org=entry.marked_by date=entry.mark.marked_at|date:"j E Y" %}Marked significant by {{ org }} on {{ date }}{% endblocktranslate %}{% if entry.mark.note %}: “{{ entry.mark.note }}”{% endif %}</p>{% endif %}
    {% else %}
      <details class="govuk-details govuk-!-margin-bottom-1">
        <summary class="govuk-details__summary"><span class="govuk-details__summary-text">{% blocktranslate count counter=group.count %}Show the {{ counter }} entry{% plural %}Show all {{ counter }} entries{% endblocktranslate %}</span></summary>
        <div class="govuk-details__text"><ul class="govuk-list">
          {% for item in group.entries %}<li id="entry-{{ item.event.public_id }}"><time datetime="{{ item.occurred_at|date:'c' }}">{{ item.occurred_at|date:"j E Y" }}</time>: {{ item.organisation_name }}{% if item.shows_content and item.event.recorder_name %} – {{ item.event.recorder_name }}{% endif %}{% if item.shows_content and item.event.summary %}. {{ item.event.summary }}{% endif %}</li>{% endfor %}
        </ul></div>
      </details>
    {% endif %}
    {% if mark_form and group.count == 1 %}
    <form method="post" action="{% url 'chronology:significant' person.public_id entry.event.public_id %}" class="cylch-inline-form">{% csrf_token %}<input type="hidden" name="next" value="{{ next }}">
      <button type="submit" class="govuk-button govuk-button--secondary govuk-!-margin-bottom-0 cylch-button--small" data-module="govuk-button">{% if entry.significant %}{% translate "Remove significant mark" %}{% else %}{% translate "Mark as significant" %}{% endif %}<span class="govuk-visually-hidden"> – {{ entry.label }}, {{ entry.occurred_at|date:"j E Y" }}</span></button>
    </form>
    {% endif %}
  {% endif %}
</li>
{% endwith %}
"""

# Queries of one request for the family below, whatever its number of entries. The page: the
# session, and the user with their organisation (2, access.backends); opening the child with the
# family (12: the person, the family (4), the viewer's standing to the child and the five other
# members read together (6, through ``relationships_to_persons``; more when the child's is read
# first and the rest's after it, 23 when asked one by one), break-glass); the chronology (4:
# events by person and by home, organisations, marks); the events shown (1: none of the first
# 50 groups is withheld from this viewer); the audit entry (5, in a savepoint under the tests);
# unread notifications (1). The session is not saved: its idle expiry moves on once a minute
# (access.middleware.SessionLimitsMiddleware), three more queries when it does.
PAGE_QUERIES = 25
# The API: the token (1); the child with the family and the standing to every member (11, no
# break-glass for a system); the chronology (4); the events of the page (2: readable, and
# withheld without their content); the audit entry (5).
API_QUERIES = 23


def _recording_lock() -> int:
    """One more on PostgreSQL: under the tests the audit entry is appended inside the test's
    transaction, so it takes the recording lock first (``access.audit._append``). Served, a
    read's entry is its own transaction and takes the chain's head alone."""
    return 1 if connection.vendor == "postgresql" else 0


def _spread(p, n: int) -> None:
    """``n`` more entries about the family, from several organisations, of several kinds."""
    sources = [
        (p.orgs.gp, p.twm, "health.appointment.was_not_brought"),
        (p.orgs.health_visiting, p.twm, factories.code_with_sensitivity("health")),
        (p.orgs.school, p.alys, factories.code_with_sensitivity("education")),
        (p.orgs.other_la_childrens_services, p.efa, factories.code_with_sensitivity("social_care")),
        (p.orgs.gp, p.dafydd, factories.code_with_sensitivity("health", subjects=("adult", "any"))),
        (p.orgs.police, p.ceri, factories.code_with_sensitivity("police", subjects=("adult", "any"))),
    ]
    start = at("2025-01-06")
    for i in range(n):
        org, person, code = sources[i % len(sources)]
        factories.event(
            organisation=org,
            person=person,
            code=code,
            occurred_at=start + timedelta(days=3 * i, hours=i % 7),
            summary=f"Entry {i} <about> {person.given_name} & family",
        )


@pytest.fixture
def busy(prydderch):
    """The Prydderch family with every kind of entry: repeated ones that fold, a correction, two
    significance marks, the child's voice and a wish's response, entries about the home."""
    p = prydderch
    _spread(p, 60)
    original = factories.event(
        organisation=p.orgs.health_visiting,
        person=p.twm,
        code=factories.code_with_sensitivity("health"),
        occurred_at=at("2026-07-01"),
        summary="Weight below the line",
    )
    correction = factories.corrected_event(original, summary="Weight on the line, re-measured")
    factories.event(
        organisation=p.orgs.school,
        person=p.alys,
        code="voice.lived_experience",
        details={"seen_alone": True, "location": "school", "method": "conversation"},
        occurred_at=at("2026-07-10"),
        summary="“I don't like it when they shout”",
    )
    wish = factories.event(
        organisation=p.orgs.school,
        person=p.alys,
        code="voice.wish.expressed",
        details={"topic": "school"},
        occurred_at=at("2026-07-11"),
        summary="More help with reading",
    )
    factories.event(
        organisation=p.orgs.school,
        person=p.alys,
        code="voice.wish.response",
        details={"outcome": "under_consideration", "wish": str(wish.public_id), "follow_up_on": "2026-10-05"},
        occurred_at=at("2026-07-12"),
        summary="Asked the reading specialist",
    )
    marked = factories.event(
        organisation=p.orgs.health_visiting,
        person=p.twm,
        code="health.appointment.was_not_brought",
        occurred_at=at("2026-08-01"),
        summary="Second missed review",
    )
    hv = access_person(Viewer.for_user(p.staff.health_visitor), p.twm.public_id)
    significance_toggle(access=hv, user=p.staff.health_visitor, event_id=marked.public_id, note="Pattern <now>")
    significance_toggle(access=hv, user=p.staff.health_visitor, event_id=correction.public_id)
    for org, code in ((p.orgs.police, "police.ppn.domestic_abuse"), (p.orgs.housing, "housing.utilities.none")):
        factories.event(organisation=org, person=p.twm, code=code, occurred_at=at("2026-08-05"))
    factories.allocated(p.twm, p.orgs.childrens_services, practitioner=p.staff.social_worker)
    return p


def _viewers(p):
    stranger_org = factories.organisation(code="T3-NONE", kind=OrganisationKind.THIRD_SECTOR, name_en="Elsewhere Trust")
    stranger = factories.demo_practitioner(
        username="stranger", role=Role.THIRD_SECTOR_WORKER, organisation=stranger_org
    )
    return [p.staff.social_worker, p.staff.health_visitor, p.staff.school_lead, p.staff.police_officer, stranger]


def test_entries_read_exactly_as_the_template_wrote_them(busy):
    """In English and Welsh, for the whole family and the child alone, with and without the
    significance forms, for viewers who see everything, a summary, or only that entries exist:
    the Python rendering is the template's, character for character."""
    p = busy
    template = engines["django"].engine.from_string(ENTRY_TEMPLATE)
    seen = set()
    for user in _viewers(p):
        access = access_person(Viewer.for_user(user), p.twm.public_id)
        for language in ("en", "cy"):
            with translation.override(language):
                for whole_family in (True, False):
                    chron = chronology(access, whole_family=whole_family)
                    for mark_form in (MarkForm(), None):
                        context = {
                            "chron": chron,
                            "person": access.person,
                            "mark_form": mark_form,
                            "next": "/people/x/chronology/?organisation=a&b=<c>",
                            "csrf_token": "t0ken",
                        }
                        expected = "".join(
                            template.render(Context({**context, "group": group})) for group in chron.groups
                        )
                        got = render_groups(
                            chron.groups,
                            person=access.person,
                            whole_family=whole_family,
                            mark_form=bool(mark_form),
                            next_url=context["next"],
                            csrf_token="t0ken",
                        )
                        assert got == expected, (user.username, language, whole_family, bool(mark_form))
                        seen |= {marker for marker in _MARKERS if marker in got}
    assert seen == set(_MARKERS), f"the family lacks {set(_MARKERS) - seen}: the comparison would miss them"


# What the family above must exercise for the comparison to mean something.
_MARKERS = (
    "Corrected",  # a correction, with its versions link
    "Marked significant by",  # a mark, with an escaped note
    "cylch-event--significant",
    "Show all",  # a folded group
    "entries withheld",  # a folded withheld group
    "Withheld: recorded by",  # a single withheld entry
    "Summary only",  # a summary-level entry
    "govuk-summary-list__row",  # details
    "Seen alone",  # how the child was heard
    "Follow up by",  # a wish's response
    "&lt;about&gt;",  # escaping of what agencies wrote
    "Nodi'n arwyddocaol",  # the form's button in Welsh: the rendering is translated
)


def _page_queries(client, child) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("chronology:chronology", args=[child.public_id]))
    assert response.status_code == 200
    return len(queries), "\n".join(q["sql"][:160] for q in queries.captured_queries)


def test_the_page_reads_a_family_in_the_same_queries_however_many_entries(busy, client, demo_hub):
    """Sixty more entries across the family add no query to the chronology page."""
    p = busy
    client.force_login(p.staff.health_visitor)
    _page_queries(client, p.twm)  # the first request of a session writes it
    before, _sql = _page_queries(client, p.twm)
    _spread(p, 60)
    after, sql = _page_queries(client, p.twm)
    assert after == before, sql
    assert after == PAGE_QUERIES + _recording_lock(), sql


def test_the_api_reads_a_family_in_the_same_queries_however_many_entries(busy, api_client):
    """Sixty more entries across the family add no query to the chronology API."""
    p = busy
    client = api_client(p.orgs.health_visiting)
    url = f"/api/v1/persons/{p.twm.public_id}/chronology?whole_family=true&limit=500"

    def measured():
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url).json()
        # Entries it may read and entries withheld, each fetched in their own query.
        assert {item["withheld"] for item in body["items"]} == {True, False}
        return len(queries), body, "\n".join(q["sql"][:160] for q in queries.captured_queries)

    measured()  # a token's first use of the day is written down
    before, first, _sql = measured()
    _spread(p, 60)
    after, second, sql = measured()
    assert second["count"] == first["count"] + 60 == len(second["items"])
    assert after == before, sql
    assert after == API_QUERIES + _recording_lock(), sql


def test_the_page_shows_the_groups_of_its_page_with_the_forms_and_markers(busy, client, demo_hub):
    """The page lists its first 50 groups, each once, with the significance forms, and says
    what is withheld."""
    p = busy
    client.force_login(p.staff.health_visitor)
    access = access_person(Viewer.for_user(p.staff.health_visitor), p.twm.public_id)
    chron = chronology(access, whole_family=True)
    html = client.get(reverse("chronology:chronology", args=[p.twm.public_id])).content.decode()
    listed = html[html.index('<ol class="govuk-list cylch-events"') :]
    listed = listed[: listed.index("</ol>")]
    for group in chron.groups[:50]:
        assert listed.count(f'" id="entry-{group.lead.event.public_id}"') == 1  # not a folded group's items
    markable = [g for g in chron.groups[:50] if g.count == 1 and not g.lead.withheld]
    assert listed.count('class="cylch-inline-form"') == len(markable) > 0
    assert "Marked significant by" in html and "Pattern &lt;now&gt;" in html
    assert "Withheld" in html
