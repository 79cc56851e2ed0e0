"""Rule packs are data: checked against a schema and the taxonomy, with every problem named."""

from __future__ import annotations

import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cylch.rules.pack import NATIONAL_PACK, PackError, check_pack, load_pack, national_pack

REQUIRED_RULES = {
    "was-not-brought-repeated",
    "was-not-brought-register",
    "domestic-abuse-notices-repeated",
    "parent-discharged-baby",
    "home-conditions-persistent",
    "soft-concerns-across-agencies",
    "parental-risks-together",
    "new-report-after-no-further-action",
    "missing-repeated",
    "missing-register",
    "emergency-attendance-register",
    "operation-encompass",
}


def write(tmp_path, text: str, name: str = "pack.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_national_pack_has_every_rule_in_both_languages_with_its_finding():
    pack = national_pack()
    assert {r.id for r in pack.rules} == REQUIRED_RULES
    for rule in pack.rules:
        for key in ("title", "explanation", "finding"):
            text = getattr(rule, key)
            assert text["en"] and text["cy"] and text["en"] != text["cy"], (rule.id, key)
    assert check_pack(NATIONAL_PACK) == []


def test_check_command_says_good_or_lists_problems(tmp_path, capsys):
    call_command("rules", "check")
    assert "good" in capsys.readouterr().out
    bad = write(tmp_path, "pack: x\nversion: '1'\ntitle: {en: X, cy: X}\nrules: [{id: a}]\n")
    with pytest.raises(CommandError, match="problem"):
        call_command("rules", "check", str(bad))
    err = capsys.readouterr().err
    assert "pack.yaml:4" in err and "rule “a”" in err and "'title' is a required property" in err


BAD_RULES = """\
    pack: test
    version: "1"
    title: {en: Test, cy: Prawf}
    settings: {n: 2}
    acknowledge: {medium: {working_days: 3}}
    rules:
      - id: good-one
        title: {en: A, cy: B}
        explanation: {en: A, cy: B}
        finding: {en: A, cy: B}
        scope: child
        window: {days: 30}
        when:
          - count: {events: {codes: [health.appointment.was_not_brought]}, at_least: $n}
        severity: medium
        route_to: [lead_coordinator]
      - id: broken
        title: {en: A, cy: B}
        explanation: {en: A, cy: B}
        finding: {en: A, cy: B}
        scope: child
        window: {days: $missing}
        when:
          - count: {events: {codes: [health.appointment.not_a_code]}, at_least: 1}
          - count:
              events: {codes: [health.hospital.attendance], where: {attendance_type: [by_helicopter]}}
              at_least: 1
        severity: medium
        route_to: [lead_coordinator]
"""


def test_every_problem_names_file_line_rule_and_field_at_once(tmp_path):
    path = write(tmp_path, BAD_RULES)
    problems = check_pack(path)
    text = [str(p) for p in problems]
    assert len(problems) == 3, text
    by_field = {p.field: p for p in problems}
    assert by_field["window.days"].rule == "broken" and "no setting called “missing”" in by_field["window.days"].message
    assert by_field["window.days"].line == 22
    assert by_field["when.0.count.events.codes.0"].line == 24
    assert "“health.appointment.not_a_code” is not a code" in by_field["when.0.count.events.codes.0"].message
    where = by_field["when.1.count.events.where.attendance_type"]
    assert "“by_helicopter” is not a value" in where.message and where.line == 26
    assert all(p.file == "pack.yaml" for p in problems)


def test_schema_problems_are_named_too(tmp_path):
    path = write(
        tmp_path,
        """\
        pack: test
        version: "1"
        title: {en: Test, cy: Prawf}
        rules:
          - id: r
            title: {en: A}
            explanation: {en: A, cy: B}
            finding: {en: A, cy: B}
            scope: street
            window: {fortnights: 2}
            when: [{count: {events: {codes: [police.missing_episode]}, at_least: lots}}]
            severity: medium
            route_to: [lead_coordinator]
        """,
    )
    problems = check_pack(path)
    fields = {p.field for p in problems}
    assert {"title", "scope", "window", "when.0.count.at_least"} <= fields, [str(p) for p in problems]
    assert all(p.rule == "r" for p in problems)
    assert any("“lots” is not a number or a “$setting”" in p.message for p in problems)


def test_yaml_cannot_carry_code(tmp_path):
    path = write(tmp_path, "pack: !!python/object/apply:os.system ['echo hi']\n")
    problems = check_pack(path)
    assert len(problems) == 1 and "not valid YAML" in problems[0].message


def test_a_region_changes_thresholds_and_switches_rules_off(tmp_path):
    path = write(
        tmp_path,
        """\
        pack: cwm-taf
        extends: wales
        version: "2026.1-ct"
        title: {en: Cwm Taf Morgannwg rules, cy: Rheolau Cwm Taf Morgannwg}
        settings: {wnb_count: 3, soft_days: 120}
        disabled: [operation-encompass]
        """,
    )
    pack = load_pack(path)
    rules = {r.id: r for r in pack.rules}
    assert "operation-encompass" not in rules and len(rules) == len(REQUIRED_RULES) - 1
    assert rules["was-not-brought-repeated"].conditions[0].at_least == 3
    assert rules["soft-concerns-across-agencies"].window.n == 120
    assert (
        national_pack().rule("was-not-brought-repeated").conditions[0].at_least == 2
    )  # the national pack is untouched
    bad = write(
        tmp_path, "pack: x\nextends: wales\nversion: '1'\ntitle: {en: X, cy: Y}\nsettings: {wnb_cuont: 3}\n", "bad.yaml"
    )
    with pytest.raises(PackError, match="has no setting “wnb_cuont”"):
        load_pack(bad)


def test_a_rule_that_is_not_a_mapping_is_named_by_its_place(tmp_path):
    """Found by fuzzing: ``rules: [a-string]`` raised AttributeError instead of naming the rule."""
    bad = write(tmp_path, "pack: x\nversion: '1'\ntitle: {en: X, cy: Y}\nrules:\n  - was-not-brought\n")
    [problem] = check_pack(bad)
    assert (problem.file, problem.line, problem.rule, problem.field) == ("pack.yaml", 5, "#1", "")
    assert "not of type 'object'" in problem.message


def test_a_pack_that_is_not_utf8_is_a_problem_on_its_line_not_an_exception(tmp_path):
    """Found by fuzzing: a pack saved as Latin-1 raised UnicodeDecodeError out of ``cylch rules
    check`` (and the start-up check) instead of naming the file and line."""
    bad = tmp_path / "pack.yaml"
    bad.write_bytes("pack: x\nversion: '1'\ntitle: {en: Wales, cy: Cymru Siân}\n".encode("latin-1"))
    [problem] = check_pack(bad)
    assert (problem.file, problem.line, problem.rule) == ("pack.yaml", 3, "")
    assert "UTF-8" in problem.message
    with pytest.raises(PackError):
        load_pack(bad)
