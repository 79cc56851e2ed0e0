"""Rule packs are checked before the hub starts, and a rule that goes quiet is shown (HAZ-003, HAZ-008).

The system check runs as ``cylch check`` does (``call_command("check")``, every registered
check); the health list reads real alerts and events recorded through the recording service.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.utils import timezone

from cylch.rules.checks import check_rule_packs
from cylch.rules.health import rule_health, rules_switched_off
from cylch.rules.models import Alert
from cylch.rules.pack import forget_packs
from tests import factories

WNB = "health.appointment.was_not_brought"
REPEATED = "was-not-brought-repeated"
AREA = "mid-west-wales"  # the Prydderch household's board area


@pytest.fixture
def fresh_packs():
    """Packs are cached per process: start and end each test with none loaded."""
    forget_packs()
    yield
    forget_packs()


def _pack(tmp_path, text: str, name: str = "mid-west.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


REGIONAL = """\
    pack: mid-west-wales
    extends: wales
    version: "1"
    title: {en: Mid and West Wales, cy: Canolbarth a Gorllewin Cymru}
    settings: {wnb_count: 10}
    disabled: [operation-encompass]
"""

BROKEN = """\
    pack: mid-west-wales
    extends: wales
    version: "1"
    title: {en: Mid and West Wales, cy: Canolbarth a Gorllewin Cymru}
    rules:
      - id: renamed-code
        title: {en: A, cy: B}
        explanation: {en: A, cy: B}
        finding: {en: A, cy: B}
        scope: child
        window: {months: 6}
        when: [{count: {events: {codes: [health.appointment.not_brought]}, at_least: 2}}]
        severity: high
        route_to: [lead_coordinator]
"""


# --- the start-up check -------------------------------------------------------------------


def test_the_national_pack_and_a_good_regional_pack_pass_the_start_up_check(settings, tmp_path, fresh_packs):
    """`cylch check` passes with the national pack alone and with a region's pack that loads."""
    assert check_rule_packs(None) == []
    settings.CYLCH_RULE_PACKS = {AREA: str(_pack(tmp_path, REGIONAL))}
    assert check_rule_packs(None) == []
    call_command("check", stdout=StringIO())


def test_a_broken_regional_pack_stops_cylch_check_naming_file_line_rule_and_field(settings, tmp_path, fresh_packs):
    """A region's pack naming a code the taxonomy lacks fails the system check before anything is
    recorded, with the board area, the file, the line, the rule and the field in the message."""
    path = _pack(tmp_path, BROKEN)
    settings.CYLCH_RULE_PACKS = {AREA: str(path)}
    [error] = check_rule_packs(None)
    assert error.id == "cylch.rules.E001" and error.is_serious()
    for words in (
        AREA,
        "mid-west.yaml:12",
        "renamed-code",
        "when.0.count.events.codes.0",
        "health.appointment.not_brought",
    ):
        assert words in error.msg, words
    assert str(path) in error.hint
    with pytest.raises(SystemCheckError) as stopped:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    assert "renamed-code" in str(stopped.value) and "cylch.rules.E001" in str(stopped.value)


def test_a_missing_regional_pack_file_stops_cylch_check(settings, tmp_path, fresh_packs):
    """A pack configured for a board area but absent at deployment is an error, not a silent fall-back."""
    settings.CYLCH_RULE_PACKS = {AREA: str(tmp_path / "not-there.yaml")}
    [error] = check_rule_packs(None)
    assert "not-there.yaml" in error.msg and "cannot read" in error.msg


# --- rules that go quiet ------------------------------------------------------------------


def _missed(p, days_ago: float) -> None:
    factories.event(
        organisation=p.orgs.gp, person=p.twm, code=WNB, occurred_at=timezone.now() - timedelta(days=days_ago)
    )


def _row(rows, rule_id: str, area: str | None = AREA):
    return next(r for r in rows if r.rule.id == rule_id and r.board_area == area)


def test_a_rule_that_fires_is_not_quiet_and_says_when_it_last_fired(prydderch, fresh_packs, django_assert_num_queries):
    """Three missed appointments raise the national rule: it has fired, so it is not quiet
    however many of its codes arrive. The list takes three queries."""
    for days in (30, 20, 10):
        _missed(prydderch, days)
    alert = Alert.objects.get(rule_id=REPEATED)
    with django_assert_num_queries(3):
        rows = rule_health(days=90, min_triggers=3)
    row = _row(rows, REPEATED)
    assert row.triggers == 3 and row.last_fired == alert.evidence_updated_at and not row.quiet
    assert row.pack.startswith("wales@")


def test_a_rule_a_region_silenced_goes_quiet_while_its_codes_keep_arriving(prydderch, settings, tmp_path, fresh_packs):
    """The region raised the threshold to ten: three missed appointments raise nothing, and with
    three as the notable number the rule is listed as quiet; with two arrivals it is not (just
    under). The rule the region switched off is listed as switched off."""
    settings.CYLCH_RULE_PACKS = {AREA: str(_pack(tmp_path, REGIONAL))}
    _missed(prydderch, 30)
    _missed(prydderch, 20)
    assert not Alert.objects.filter(rule_id=REPEATED).exists()
    under = _row(rule_health(days=90, min_triggers=3), REPEATED)
    assert under.triggers == 2 and not under.quiet
    _missed(prydderch, 10)
    rows = rule_health(days=90, min_triggers=3)
    quiet = _row(rows, REPEATED)
    assert quiet.quiet and quiet.last_fired is None and quiet.pack == "mid-west-wales@1"
    assert not _row(rows, "domestic-abuse-notices-repeated").quiet  # none of its codes arrived
    assert not any(r.rule.id == "operation-encompass" and r.board_area == AREA for r in rows)
    assert [(s.board_area, s.rule_id) for s in rules_switched_off()] == [(AREA, "operation-encompass")]


def test_a_rule_that_last_fired_before_the_window_is_quiet_and_events_outside_it_do_not_count(
    prydderch, settings, fresh_packs
):
    """The rule last fired 100 days ago; events older than the 90-day window do not count, so
    it is not quiet yet. Then a missed appointment arrives that the rules do not read (as if the
    rule had stopped reading it): quiet, saying when it last fired."""
    _missed(prydderch, 200)
    _missed(prydderch, 150)
    long_ago = timezone.now() - timedelta(days=100)
    Alert.objects.filter(rule_id=REPEATED).update(evidence_updated_at=long_ago)
    row = _row(rule_health(days=90, min_triggers=1), REPEATED)
    assert row.triggers == 0 and not row.quiet
    settings.CYLCH_RULES_ON_RECORD = False
    _missed(prydderch, 5)
    row = _row(rule_health(days=90, min_triggers=1), REPEATED)
    assert row.triggers == 1 and row.quiet and row.last_fired == long_ago


def test_the_health_command_lists_every_rule_and_fails_when_strict_and_one_is_quiet(
    prydderch, settings, tmp_path, fresh_packs
):
    """`cylch rules health` shows each rule's last firing per board area and flags the quiet
    one; with --strict it fails, so a scheduled run can raise the alarm."""
    settings.CYLCH_RULE_PACKS = {AREA: str(_pack(tmp_path, REGIONAL))}
    settings.CYLCH_RULE_QUIET_MIN_TRIGGERS = 2
    _missed(prydderch, 30)
    _missed(prydderch, 20)
    out = StringIO()
    call_command("rules", "health", stdout=out)
    text = out.getvalue()
    assert "Mid and West Wales (mid-west-wales), pack mid-west-wales@1:" in text
    assert f"  {REPEATED}: last fired never; 2 events that could set it off in 90 days  QUIET" in text
    assert "Switched off in mid-west-wales (mid-west-wales@1): operation-encompass" in text
    with pytest.raises(CommandError, match="quiet"):
        call_command("rules", "health", "--strict", stdout=StringIO())
    call_command("rules", "health", "--strict", "--min-triggers", "3", stdout=StringIO())
