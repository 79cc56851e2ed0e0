"""School days: Operation Encompass reaches the school "before the start of the next school day",
by the term dates of the child's local authority (core/school_terms.yaml), not the next working
day, which may fall in half term or the summer holiday. A year without term dates is not
guessed: it falls back to working days, loudly."""

from __future__ import annotations

import logging
import textwrap
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cylch.access.models import BoardArea, LocalAuthority, Organisation
from cylch.access.roles import OrganisationKind
from cylch.core import school_terms
from cylch.core.calendar import is_school_day, next_school_day
from cylch.core.checks import check_school_terms, check_school_terms_authorities
from cylch.rules.pack import Deadline, check_pack, national_pack
from cylch.rules.routing import Target, acknowledge_by
from cylch.rules.selectors import describe_deadline, rule_views

LONDON = ZoneInfo("Europe/London")
ENCOMPASS = Deadline(next_school_day_at="08:30")


def at(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=LONDON)


def due(day: str, la: str | None = "cardiff", hour: int = 10, minute: int = 0, **kwargs) -> datetime:
    """The Encompass deadline for a notice at ``day`` ``hour``:``minute`` in authority ``la``."""
    authority = LocalAuthority(code=la) if la else None
    return timezone.localtime(acknowledge_by(ENCOMPASS, at(day, hour, minute), local_authority=authority, **kwargs))


def write(tmp_path, text: str, name: str = "terms.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the deadline at the edges, on the shipped term dates ----------------------------------


def test_a_notice_before_half_past_eight_on_a_school_day_is_due_that_morning():
    """07:00 on Tuesday 24 November 2026 (in term): due 08:30 the same day."""
    assert due("2026-11-24", hour=7) == at("2026-11-24", 8, 30)
    assert due("2026-11-24", hour=8, minute=29) == at("2026-11-24", 8, 30)


def test_a_notice_from_half_past_eight_on_a_school_day_is_due_the_next_school_day():
    """08:30 or 09:00 on Tuesday 24 November 2026: due 08:30 on Wednesday."""
    assert due("2026-11-24", hour=8, minute=30) == at("2026-11-25", 8, 30)
    assert due("2026-11-24", hour=9) == at("2026-11-25", 8, 30)


def test_a_notice_on_the_friday_before_half_term_is_due_when_school_goes_back():
    """Friday 23 October 2026 at 15:00: half term is 26-30 October, so due Monday 2 November,
    not Monday 26 October (when the next working day would have put it, with nobody in school)."""
    assert due("2026-10-23", hour=15) == at("2026-11-02", 8, 30)
    working = acknowledge_by(Deadline(next_working_day_at="08:30"), at("2026-10-23", 15))
    assert timezone.localtime(working) == at("2026-10-26", 8, 30)


def test_a_notice_in_the_summer_holiday_is_due_on_the_first_day_of_the_autumn_term():
    """Monday 10 August 2026 (summer holiday after 2025/26): due Tuesday 1 September 2026."""
    assert due("2026-08-10", hour=22) == at("2026-09-01", 8, 30)
    assert not is_school_day(date(2026, 7, 21), "cardiff") and is_school_day(date(2026, 7, 20), "cardiff")


def test_a_notice_at_christmas_is_due_on_the_first_day_of_the_spring_term():
    """Saturday 19 December 2026: due Monday 4 January 2027 (1 January is a bank holiday anyway)."""
    assert due("2026-12-19") == at("2027-01-04", 8, 30)


def test_a_bank_holiday_in_term_is_not_a_school_day():
    """Monday 3 May 2027 (early May bank holiday) falls in the summer term: a notice on Friday
    30 April at 10:00, or at 07:00 on the holiday itself, is due Tuesday 4 May."""
    assert not is_school_day(date(2027, 5, 3), "cardiff") and is_school_day(date(2027, 5, 4), "cardiff")
    assert due("2027-04-30") == at("2027-05-04", 8, 30)
    assert due("2027-05-03", hour=7) == at("2027-05-04", 8, 30)


def test_an_extra_non_working_day_closes_schools_too(settings):
    """A bank holiday proclaimed after a release (CYLCH_EXTRA_NON_WORKING_DAYS) is not a school day."""
    settings.CYLCH_EXTRA_NON_WORKING_DAYS = ["2026-11-25"]
    assert due("2026-11-24", hour=9) == at("2026-11-26", 8, 30)


def test_an_authority_with_its_own_dates_follows_them():
    """Powys's 2026/27 variation: in term until Tuesday 22 December 2026 and out from Friday 16
    July 2027 (the Royal Welsh Show). Cardiff follows the Welsh dates."""
    assert due("2026-12-18", "powys", hour=16) == at("2026-12-21", 8, 30)
    assert due("2026-12-18", "cardiff", hour=16) == at("2027-01-04", 8, 30)
    assert not is_school_day(date(2027, 7, 19), "powys") and is_school_day(date(2027, 7, 19), "cardiff")
    assert next_school_day(date(2026, 10, 23), "powys") == date(2026, 11, 2)  # the shared half term


def test_an_authority_override_in_the_file_replaces_only_the_terms_it_gives(tmp_path, settings):
    """A hub's own file (CYLCH_SCHOOL_TERMS): Ceredigion's autumn half term a week later than
    Wales's; its other terms stay the Welsh ones. The summer holiday reaches into the next year."""
    settings.CYLCH_SCHOOL_TERMS = str(
        write(
            tmp_path,
            """\
            years:
              "2027/28":
                wales:
                  autumn: {starts: 2027-09-01, ends: 2027-12-17, half_term: {starts: 2027-10-25, ends: 2027-10-29}}
                  spring: {starts: 2028-01-04, ends: 2028-04-07, half_term: {starts: 2028-02-14, ends: 2028-02-18}}
                  summer: {starts: 2028-04-24, ends: 2028-07-20}
                authorities:
                  ceredigion:
                    autumn: {starts: 2027-09-02, ends: 2027-12-17, half_term: {starts: 2027-11-01, ends: 2027-11-05}}
                    closed: [2028-03-01]
              "2028/29":
                wales:
                  autumn: {starts: 2028-09-04, ends: 2028-12-20}
                  spring: {starts: 2029-01-08, ends: 2029-03-29}
                  summer: {starts: 2029-04-16, ends: 2029-07-20}
            """,
        )
    )
    assert due("2027-10-22", "wrexham", hour=15) == at("2027-11-01", 8, 30)
    assert due("2027-10-22", "ceredigion", hour=15) == at("2027-10-25", 8, 30)
    assert due("2027-10-29", "ceredigion", hour=15) == at("2027-11-08", 8, 30)
    assert due("2027-08-31", "ceredigion") == at("2027-09-02", 8, 30)  # its own first day
    assert due("2028-02-29", "ceredigion", hour=9) == at("2028-03-02", 8, 30)  # St David's Day closed
    assert due("2028-07-21", "ceredigion") == at("2028-09-04", 8, 30)  # summer holiday into 2028/29


@pytest.mark.django_db
def test_the_childs_schools_authority_decides_not_the_households():
    """A pupil living in Cardiff at a school in Powys: the alert goes to the school, so Powys's
    term dates apply (in term on Monday 21 December 2026); routed to the front door, Cardiff's."""
    board = BoardArea.objects.create(code="b", name_en="B", name_cy="B")
    cardiff = LocalAuthority.objects.create(code="cardiff", name_en="Cardiff", name_cy="Caerdydd", board_area=board)
    powys = LocalAuthority.objects.create(code="powys", name_en="Powys", name_cy="Powys", board_area=board)
    school = Organisation.objects.create(
        code="ysgol", name_en="School", name_cy="Ysgol", kind=OrganisationKind.SCHOOL, local_authority=powys
    )
    front_door = Organisation.objects.create(
        code="cs", name_en="CS", name_cy="GC", kind=OrganisationKind.LA_CHILDRENS_SERVICES, local_authority=cardiff
    )
    friday = at("2026-12-18", 16)
    to_school = [Target(school, None, "school")]
    assert acknowledge_by(ENCOMPASS, friday, local_authority=cardiff, targets=to_school) == at("2026-12-21", 8, 30)
    to_front_door = [Target(front_door, None, "front_door")]
    assert acknowledge_by(ENCOMPASS, friday, local_authority=cardiff, targets=to_front_door) == at("2027-01-04", 8, 30)


# --- falling back, loudly -------------------------------------------------------------------


ONLY_2026_27 = """\
    years:
      "2026/27":
        wales:
          autumn: {starts: 2026-09-01, ends: 2026-12-18, half_term: {starts: 2026-10-26, ends: 2026-10-30}}
          spring: {starts: 2027-01-04, ends: 2027-03-19, half_term: {starts: 2027-02-08, ends: 2027-02-12}}
          summer: {starts: 2027-04-05, ends: 2027-07-20, half_term: {starts: 2027-05-31, ends: 2027-06-04}}
"""


def test_a_missing_year_falls_back_to_working_days_and_says_which_year(tmp_path, settings, caplog):
    """A file that ends with 2026/27 (as the shipped one does today): a notice in its summer
    holiday (Wednesday 21 July 2027) needs 2027/28's first day, which nobody has given. It is due
    the next working day, and the log names the year and the authority."""
    settings.CYLCH_SCHOOL_TERMS = str(write(tmp_path, ONLY_2026_27))
    with caplog.at_level(logging.WARNING, logger="cylch.rules.routing"):
        assert due("2027-07-21", "cardiff") == at("2027-07-22", 8, 30)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "2027/28" in record.getMessage() and "cardiff" in record.getMessage()
    assert "working days" in record.getMessage()
    with pytest.raises(school_terms.MissingTermDates, match="2027/28"):
        next_school_day(date(2027, 7, 21), "cardiff")


def test_no_local_authority_falls_back_to_working_days():
    """With no authority (none passed yet, or a household without one) there are no term dates
    to follow: the next working day, as before."""
    assert due("2026-10-23", None, hour=15) == at("2026-10-26", 8, 30)
    assert due("2026-11-24", None, hour=7) == at("2026-11-24", 8, 30)


def test_the_system_check_names_a_missing_academic_year(tmp_path, settings):
    """A file without the year we are in is a warning naming the year (cylch.core.W002)."""
    this_year = school_terms.year_label(school_terms.academic_year(timezone.localdate()))
    settings.CYLCH_SCHOOL_TERMS = str(
        write(
            tmp_path,
            """\
            years:
              "2020/21":
                wales:
                  autumn: {starts: 2020-09-01, ends: 2020-12-18}
                  spring: {starts: 2021-01-05, ends: 2021-03-26}
                  summer: {starts: 2021-04-12, ends: 2021-07-20}
            """,
        )
    )
    warnings = check_school_terms(None)
    assert warnings and {w.id for w in warnings} == {"cylch.core.W002"}
    assert this_year in warnings[0].msg and "working day" in warnings[0].msg


def test_a_bad_term_dates_file_is_an_error_naming_file_line_and_key(tmp_path, settings):
    """Every problem at once, each with the file, the line and the key (cylch.core.E002); until
    it is fixed, school-day deadlines fall back to working days."""
    path = write(
        tmp_path,
        """\
        years:
          "2026/28":
            wales: {}
          "2026/27":
            wales:
              autumn: {starts: 2026-09-01, ends: 2026-08-30}
              spring: {starts: 2027-01-04, ends: 2027-03-19, half_term: {starts: 2027-03-22, ends: 2027-03-26}}
              sumer: {starts: 2027-04-05, ends: 2027-07-20}
            authorities:
              Powys!: {summer: {starts: 2027-04-05, ends: 2027-07-16}}
              powys: {closed: [1 May 2027]}
        """,
    )
    with pytest.raises(school_terms.SchoolTermsError) as raised:
        school_terms.load_terms(path)
    found = {(p.line, p.key): p.message for p in raised.value.problems}
    assert "is not an academic year" in found[(2, "years.2026/28")]
    assert "is before it starts" in found[(6, "years.2026/27.wales.autumn.ends")]
    assert "not inside the spring term" in found[(7, "years.2026/27.wales.spring.half_term")]
    assert "unknown key “sumer”" in found[(8, "years.2026/27.wales.sumer")]
    assert "the summer term is missing" in found[(5, "years.2026/27.wales")]
    assert all(p.file == "terms.yaml" for p in raised.value.problems)

    settings.CYLCH_SCHOOL_TERMS = str(path)
    errors = check_school_terms(None)
    assert {e.id for e in errors} == {"cylch.core.E002"}
    assert any("terms.yaml:6: years.2026/27.wales.autumn.ends" in e.msg for e in errors)
    assert due("2026-10-23", "cardiff", hour=15) == at("2026-10-26", 8, 30)


def test_authority_codes_and_closed_days_are_checked_too(tmp_path):
    path = write(
        tmp_path,
        """\
        years:
          "2026/27":
            wales:
              autumn: {starts: 2026-09-01, ends: 2026-12-18}
              spring: {starts: 2027-01-04, ends: 2027-03-19}
              summer: {starts: 2027-04-05, ends: 2027-07-20}
            authorities:
              Powys!: {summer: {starts: 2027-04-05, ends: 2027-07-16}}
              powys: {closed: [1 May 2027, 2027-08-02]}
              gwynedd: {}
              conwy: {spring: {starts: 2026-12-01, ends: 2027-03-19}}
        """,
    )
    problems = {p.key: (p.line, p.message) for p in school_terms.check_terms(path)}
    assert "not a local authority code" in problems["years.2026/27.authorities.Powys!"][1]
    assert problems["years.2026/27.authorities.powys.closed.0"][1] == "“1 May 2027” is not a date written YYYY-MM-DD"
    assert "nothing to close" in problems["years.2026/27.authorities.powys.closed"][1]
    assert "changes nothing" in problems["years.2026/27.authorities.gwynedd"][1]
    assert "the spring term starts before the autumn term ends" in problems["years.2026/27.authorities.conwy.spring"][1]
    assert problems["years.2026/27.authorities.conwy.spring"][0] == 11


@pytest.mark.django_db
def test_an_override_for_an_authority_cylch_does_not_have_is_a_warning(tmp_path, settings):
    """A misspelt code would leave that authority on the Welsh dates silently (cylch.core.W003)."""
    board = BoardArea.objects.create(code="b", name_en="B", name_cy="B")
    LocalAuthority.objects.create(code="cardiff", name_en="Cardiff", name_cy="Caerdydd", board_area=board)
    [warning] = check_school_terms_authorities(None, databases=["default"])
    assert warning.id == "cylch.core.W003" and "“powys”" in warning.msg  # the shipped file's override
    LocalAuthority.objects.create(code="powys", name_en="Powys", name_cy="Powys", board_area=board)
    assert check_school_terms_authorities(None, databases=["default"]) == []
    assert check_school_terms_authorities(None) == []  # without a database: not run


# --- the rule pack --------------------------------------------------------------------------


def test_the_national_encompass_rule_counts_school_days_and_says_so_in_both_languages():
    rule = national_pack().rule("operation-encompass")
    assert rule.acknowledge == Deadline(next_school_day_at="08:30")
    [view] = [v for v in rule_views(national_pack(), "en") if v.rule.id == rule.id]
    assert view.acknowledge == "Before 08:30 on the next school day (by the term dates of the child's local authority)"
    [view] = [v for v in rule_views(national_pack(), "cy") if v.rule.id == rule.id]
    assert view.acknowledge == "Cyn 08:30 ar y diwrnod ysgol nesaf (yn ôl dyddiadau tymor awdurdod lleol y plentyn)"
    assert describe_deadline(Deadline(working_days=3), "cy") == "O fewn 3 diwrnod gwaith"
    assert describe_deadline(Deadline(hours=2), "en") == "Within 2 hours"


PACK = """\
    pack: test
    version: "1"
    title: {en: Test, cy: Prawf}
    rules:
      - id: encompass-local
        title: {en: A, cy: B}
        explanation: {en: A, cy: B}
        finding: {en: A, cy: B}
        scope: household
        window: {days: 1}
        when:
          - count: {events: {codes: [police.ppn.domestic_abuse]}, at_least: 1}
        severity: high
        acknowledge: {next_school_day_at: %s}
        route_to: [school]
"""


def test_the_pack_schema_accepts_next_school_day_at(tmp_path):
    path = tmp_path / "pack.yaml"
    path.write_text(textwrap.dedent(PACK % '"08:45"'), encoding="utf-8")
    assert check_pack(path) == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('"8.30"', "“8.30” is not a time written HH:MM"),
        ('"25:00"', "“25:00” is not a time written HH:MM"),
        ("9:30", "570 is not a time: write the time in quotes"),  # YAML 1.1 sexagesimal
    ],
)
def test_rules_check_names_the_rule_and_field_of_a_bad_school_day_time(tmp_path, capsys, value, says):
    path = tmp_path / "pack.yaml"
    path.write_text(textwrap.dedent(PACK % value), encoding="utf-8")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("rules", "check", str(path))
    err = capsys.readouterr().err
    assert "pack.yaml:14: rule “encompass-local” acknowledge.next_school_day_at:" in err, err
    assert says in err, err
