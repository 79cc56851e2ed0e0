"""The service's menu (cylch.core.navigation): who sees which item, which is current, the unread
count, and the Welsh."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from cylch.notify.services import notify_user


def menu(client, user, path="/search/", language="en") -> list[tuple[str, str, bool]]:
    """(address, words, current) of each item of the menu on ``path``, as the page shows it."""
    client.force_login(user)
    client.get(f"/language/{language}/")
    html = client.get(path).content.decode()
    nav = html[html.index('id="navigation"') : html.index("</ul>", html.index('id="navigation"'))]
    items = re.findall(r'<li class="govuk-service-navigation__item( govuk-service-navigation__item--active)?">\s*'
                       r'<a class="govuk-service-navigation__link" href="([^"]+)"( aria-current="page")?>(.*?)</a>', nav)  # fmt: skip
    for active, _href, current, _words in items:
        assert bool(active) == bool(current)  # marked current in both ways, or neither
    return [(href, re.sub(r"<[^>]+>", "", words), bool(active)) for active, href, _c, words in items]


def test_each_role_sees_its_own_items_in_order_and_the_page_it_is_on(prydderch, client, demo_hub):
    staff = prydderch.staff
    words = [w for _h, w, _a in menu(client, staff.health_visitor)]
    assert words == ["Find a person", "Notices", "Alerts", "Report a worry", "My reports", "Imports"]
    manager = menu(client, staff.team_manager, "/alerts/")
    assert [w for _h, w, _a in manager] == [
        "Find a person", "Notices", "Alerts", "Approvals", "People's requests", "Webhooks", "Report a worry",
        "My reports", "Imports", "Measures", "Child protection dates", "Front door", "Matching",
    ]  # fmt: skip
    assert [(h, a) for h, _w, a in manager if a] == [("/alerts/", True)]
    police = menu(client, staff.police_officer, "/notices/")
    assert "Approvals" not in {w for _h, w, _a in police}
    assert [h for h, _w, a in police if a] == ["/notices/"]
    record = menu(client, staff.gp, f"/people/{prydderch.alys.public_id}/")  # a page not in the menu
    assert len(record) == 6 and not any(a for _h, _w, a in record)


def test_unread_notices_are_counted_on_the_notices_item(prydderch, client, demo_hub):
    gp = prydderch.staff.gp
    assert ("/notices/", "Notices", False) in menu(client, gp)
    for i in range(3):
        notify_user(recipient=gp, kind="test", subject=_("Notices"), body=_("Notices"), dedupe_key=f"nav-{i}")
    assert ("/notices/", "Notices 3 unread", False) in menu(client, gp)


def test_the_menu_in_welsh(prydderch, client, demo_hub):
    words = [w for _h, w, _a in menu(client, prydderch.staff.team_manager, language="cy")]
    assert words[0] == "Dod o hyd i berson" and "Find a person" not in words
    assert len(words) == 13 and all(w for w in words)


def test_every_item_shown_opens_for_each_role_and_is_not_turned_away(prydderch, client, demo_hub):
    """A board analyst was shown "Find a person", which sent them straight to the measures, and
    "Imports", for records a board does not hold. Every item a role is shown opens for it, where
    it was sent."""
    from cylch.access.roles import Role
    from tests import factories

    org = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="MWW board", name_cy="Bwrdd CGC",
                                 local_authority=None)  # fmt: skip
    org.board_area = prydderch.places.mid_and_west_wales
    org.save()
    board = factories.demo_practitioner(username="nav.board", role=Role.BOARD_ANALYST, organisation=org)
    panel = factories.demo_practitioner(username="nav.panel", role=Role.REVIEW_PANEL, organisation=org)
    for user in (board, panel):
        words = [w for _h, w, _a in menu(client, user, "/notices/")]
        assert "Find a person" not in words and "Imports" not in words, words
    staff = prydderch.staff
    for user in (board, panel, staff.health_visitor, staff.team_manager, staff.police_officer, staff.housing_officer):
        for href, words, _a in menu(client, user, "/notices/"):
            response = client.get(href)
            assert response.status_code == 200, (user.role, words, href, response.status_code)
