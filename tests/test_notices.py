"""The notices page: every notice a practitioner is sent is there to read, even when the email
never arrives (HAZ-004); unread first, marked read by its recipient only, links stay on the hub."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy

from cylch.notify.models import Notification
from cylch.notify.services import notify_user

pytestmark = pytest.mark.django_db


def _tell(user, subject: str, url: str = "") -> Notification:
    return notify_user(
        recipient=user, kind="test", subject=gettext_lazy(subject), body=gettext_lazy("Body of it."), url=url
    )


def test_notices_are_listed_unread_first_and_counted_in_the_navigation(prydderch, client, demo_hub):
    sw = prydderch.staff.social_worker
    old = _tell(sw, "Read already")
    _tell(sw, "Needs reading")
    Notification.objects.filter(pk=old.pk).update(read_at=old.created_at)
    client.force_login(sw)
    page = client.get(reverse("notify:notices")).content.decode()
    assert page.index("Needs reading") < page.index("Read already")
    assert "You have 1 unread notice." in page
    search = client.get(reverse("identity:search")).content.decode()
    assert 'Notices <strong class="govuk-tag govuk-tag--blue">1' in search


def test_only_the_recipient_marks_a_notice_and_open_stays_on_the_hub(prydderch, client, demo_hub):
    sw, hv = prydderch.staff.social_worker, prydderch.staff.health_visitor
    mine = _tell(sw, "About a report", url="/reports/find/")
    outside = _tell(sw, "A strange link", url="https://evil.example/steal")
    client.force_login(hv)
    assert client.post(reverse("notify:read", args=[mine.public_id])).status_code == 404
    mine.refresh_from_db()
    assert mine.read_at is None
    client.force_login(sw)
    response = client.post(reverse("notify:read", args=[mine.public_id]), {"open": "1"})
    assert response.status_code == 302 and response["Location"] == "/reports/find/"
    response = client.post(reverse("notify:read", args=[outside.public_id]), {"open": "1"})
    assert response["Location"] == reverse("notify:notices")
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_the_open_button_is_a_verb_in_welsh(prydderch, client, demo_hub, settings):
    """ "Agor" (open it), not "Ar agor" (is open): the status shares the English word."""
    sw = prydderch.staff.social_worker
    _tell(sw, "About a report", url="/reports/find/")
    client.force_login(sw)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "cy"
    page = client.get(reverse("notify:notices")).content.decode()
    assert 'data-module="govuk-button">Agor<span class="govuk-visually-hidden">' in page and "Ar agor" not in page


def test_mark_all_read_and_signed_out_people_are_sent_to_sign_in(prydderch, client, demo_hub):
    sw = prydderch.staff.social_worker
    for i in range(3):
        _tell(sw, f"Notice {i}")
    assert client.get(reverse("notify:notices")).status_code == 302
    client.force_login(sw)
    assert client.get(reverse("notify:read-all")).status_code == 405
    client.post(reverse("notify:read-all"))
    assert not Notification.objects.filter(recipient=sw, read_at__isnull=True).exists()


def test_a_notice_reads_in_the_language_of_the_page_even_one_made_before_the_reader_changed(
    prydderch, client, demo_hub
):
    """A notice was written once, in the recipient's language when it was made: someone who
    moved to Welsh read their older notices in English. Each notice now keeps every language of
    the hub, its parts included (a rule's title from its pack, a lazy label), and the email is
    still in the recipient's language. A notice kept from before has only the one it was made in."""
    from cylch.notify.models import OutboxMessage
    from cylch.notify.services import in_language
    from cylch.rules.pack import national_pack

    sw = prydderch.staff.social_worker
    sw.language = "en"
    sw.save(update_fields=["language"])
    rule = national_pack().rules[0]
    notice = notify_user(
        recipient=sw, kind="test", subject=gettext_lazy("Alert: %(title)s"), body=gettext_lazy("Body of it."),
        url="/alerts/", context={"title": in_language(rule.title_in)},
    )  # fmt: skip
    assert notice.subject == f"Alert: {rule.title['en']}"
    assert OutboxMessage.objects.get(to=sw.email).subject == notice.subject  # the email: as before
    old = Notification.objects.create(recipient=sw, kind="test", subject="Made in English only", body="Old body")
    client.force_login(sw)
    client.get("/language/cy/")
    page = client.get(reverse("notify:notices")).content.decode()
    assert f"Rhybudd: {rule.title['cy']}" in page and f"Alert: {rule.title['en']}" not in page
    assert "Made in English only" in page and old.texts == {}


def test_dates_in_notices_are_written_out_with_their_weekday_in_each_language(prydderch):
    """ "Due by 08/12/2026" reads as August to some; a deadline's day of the week catches a
    misread date. Welsh places it mid-sentence ("erbyn dydd Mawrth ..."), so "dydd" is lower case."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from django.utils import translation

    from cylch.notify.services import at_moment, on_day

    day, moment = date(2026, 12, 8), datetime(2026, 7, 7, 13, 5, tzinfo=ZoneInfo("UTC"))
    said = {}
    for language in ("en", "cy"):
        with translation.override(language):
            said[language] = (str(on_day(day)), str(on_day(day, weekday=False)), str(at_moment(moment)))
    assert said["en"] == ("Tuesday 8 December 2026", "8 December 2026", "Tuesday 7 July 2026, 14:05")
    assert said["cy"] == ("dydd Mawrth 8 Rhagfyr 2026", "8 Rhagfyr 2026", "dydd Mawrth 7 Gorffennaf 2026, 14:05")
    sw = prydderch.staff.social_worker
    notice = notify_user(recipient=sw, kind="test", subject=gettext_lazy("Due by %(due)s: %(what)s"),
                         body=gettext_lazy("%(what)s is due by %(due)s."), context={"due": on_day(day), "what": "X"})  # fmt: skip
    assert notice.texts["en"][1] == "X is due by Tuesday 8 December 2026."
    assert notice.texts["cy"][1] == "X: y dyddiad olaf yw dydd Mawrth 8 Rhagfyr 2026."
