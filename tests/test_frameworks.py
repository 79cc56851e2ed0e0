"""Self-assessment frameworks are data: the rapid review ships ready, the 12Cs as a refused
template, and every problem in a file names the file, the line, the component and the field."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from cylch.reviews import frameworks
from cylch.reviews.frameworks import FrameworkError, check_framework, load_framework

RR_FILE = frameworks.DIRECTORY / "rapid-review-2023.yaml"
TEMPLATE_12CS = frameworks.DIRECTORY / "12cs-template.yaml"
# The rapid review's numbering, read from the report's "Recommendations" under each key line of
# enquiry (and repeated in its appendices 1-7): nine for KLOE 1, three, three, one, two, two.
RR_IDS = [
    *(f"1.{n}" for n in range(1, 10)),
    "2.1", "2.2", "2.3",
    "3.1", "3.2", "3.3",
    "4.1",
    "5.1", "5.2",
    "6.1", "6.2",
]  # fmt: skip

GOOD = """\
id: test-framework
version: 1
title: {en: "A test framework", cy: "Fframwaith prawf"}
source: "Fictional, for tests."
owners:
  boards: {en: "Boards", cy: "Byrddau"}
scale:
  min: 1
  max: 3
  levels:
    - {grade: 1, label: {en: "Not started", cy: "Heb ddechrau"}}
    - {grade: 2, label: {en: "Under way", cy: "Ar y gweill"}}
    - {grade: 3, label: {en: "Done", cy: "Wedi'i wneud"}}
groups:
  - id: first
    title: {en: "First", cy: "Cyntaf"}
    components:
      - id: "1"
        title: {en: "One", cy: "Un"}
        text: {en: "The first component.", cy: "Y gydran gyntaf."}
        owners: [boards]
      - id: "2"
        title: {en: "Two", cy: "Dau"}
        text: {en: "The second component.", cy: "Yr ail gydran."}
"""


def write(tmp_path, text: str, name: str = "framework.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the ``nth`` line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def problems_of(path) -> list:
    with pytest.raises(FrameworkError) as caught:
        load_framework(path)
    return caught.value.problems


# --- the shipped rapid review framework ------------------------------------------------------


def test_rapid_review_loads_with_every_recommendation_in_both_languages():
    """The rapid review ships as a framework: recommendations 1.1 to 6.2, each in English and Welsh."""
    fw = load_framework(RR_FILE)
    assert fw.id == "rapid-review-2023"
    assert [c.id for c in fw.components] == RR_IDS
    for c in fw.components:
        for key in ("title", "text"):
            assert getattr(c, key)["en"].strip() and getattr(c, key)["cy"].strip(), (c.id, key)
            assert getattr(c, key)["en"] != getattr(c, key)["cy"], (c.id, key)
    assert fw.title["cy"] and fw.source


def test_rapid_review_is_grouped_by_key_line_of_enquiry():
    """Six groups, one per key line of enquiry, each holding the recommendations it numbers."""
    fw = load_framework(RR_FILE)
    assert [g.id for g in fw.groups] == [f"kloe-{n}" for n in range(1, 7)]
    for n, group in enumerate(fw.groups, start=1):
        assert all(c.id.startswith(f"{n}.") for c in group.components)
        assert group.guidance and group.guidance["en"].startswith("We looked at whether")


def test_rapid_review_owners_are_the_reports():
    """Every recommendation has the owners the report's appendices give it."""
    fw = load_framework(RR_FILE)
    assert all(c.owners for c in fw.components)
    assert fw.component("1.1").owners == ("multi_agency",)
    assert set(fw.component("1.6").owners) == {"welsh_government", "health"}
    assert set(fw.component("4.1").owners) == {
        "regional_safeguarding_boards",
        "national_independent_safeguarding_board",
    }
    assert [c.id for c in fw.owned_by("education")] == ["1.9"]
    assert fw.owner_label("welsh_government", "cy") == "Llywodraeth Cymru"


def test_rapid_review_text_is_the_reports_wording():
    """The English text is the report's own wording, not a paraphrase."""
    fw = load_framework(RR_FILE)
    assert (
        fw.component("1.1")
        .text["en"]
        .startswith("Children's services must communicate information about duty to report outcomes")
    )
    assert "within seven working days" in fw.component("1.1").text["en"]
    assert (
        fw.component("3.1")
        .text["en"]
        .startswith("All meetings held in line with child protection processes should start with the child's story.")
    )
    assert "y gofrestr amddiffyn plant" in fw.component("1.2").text["cy"]
    assert "cynllun amddiffyn gofal a chymorth" in fw.component("1.7").text["cy"]


def test_scale_labels_and_grades():
    """A grade on the scale has a label in each language; one off it is refused."""
    scale = load_framework(RR_FILE).scale
    assert list(scale.grades) == [1, 2, 3, 4]
    assert scale.label(4, "en") == "Embedded and evidenced"
    assert scale.label(1, "cy") == "Heb ei sefydlu eto"
    for bad in (0, 5, True, "3"):
        with pytest.raises(ValueError, match="not on the scale 1 to 4"):
            scale.check(bad)


def test_shipped_lists_the_rapid_review_and_not_the_template():
    """shipped() loads every framework in the directory, leaving templates out."""
    frameworks.shipped.cache_clear()
    assert [fw.id for fw in frameworks.shipped()] == ["rapid-review-2023"]
    assert frameworks.framework("rapid-review-2023").label == "rapid-review-2023@1"
    assert frameworks.framework("12cs") is None
    assert frameworks.templates() == [TEMPLATE_12CS]


# --- problems name the file, line, component and field --------------------------------------


def test_a_good_file_loads(tmp_path):
    fw = load_framework(write(tmp_path, GOOD))
    assert [c.id for c in fw.components] == ["1", "2"]
    assert fw.component("2").owners == ()


def test_duplicate_component_id(tmp_path):
    """A second component with the same id is refused at its line."""
    text = GOOD.replace('id: "2"', 'id: "1"')
    [problem] = problems_of(write(tmp_path, text))
    assert problem.file == "framework.yaml"
    assert problem.line == line_of(text, 'id: "1"', nth=2)
    assert (problem.where, problem.field) == ("component “1”", "id")
    assert "two components called “1”" in problem.message
    assert str(problem).startswith(f"framework.yaml:{problem.line}: component “1” id: ")


def test_duplicate_key(tmp_path):
    """A key written twice in one mapping is refused at the second (YAML would keep the last)."""
    text = GOOD.replace(
        '        title: {en: "Two", cy: "Dau"}\n',
        '        title: {en: "Two", cy: "Dau"}\n        title: {en: "Two again", cy: "Dau eto"}\n',
    )
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.where, problem.field) == ("component “2”", "title")
    assert problem.line == line_of(text, "Two again")
    assert "“title” is written twice" in problem.message


def test_duplicate_group_id(tmp_path):
    text = GOOD + textwrap.indent(
        textwrap.dedent("""\
        - id: first
          title: {en: "Again", cy: "Eto"}
          components:
            - id: "3"
              title: {en: "Three", cy: "Tri"}
              text: {en: "The third.", cy: "Y drydedd."}
        """),
        "  ",
    )
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.where, problem.field) == ("group “first”", "id")
    assert problem.line == line_of(text, "- id: first", nth=2)
    assert "two groups called “first”" in problem.message


def test_missing_welsh(tmp_path):
    """A component text without Welsh names the component and the field, at its line."""
    text = GOOD.replace('text: {en: "The second component.", cy: "Yr ail gydran."}', 'text: {en: "The second."}')
    [problem] = problems_of(write(tmp_path, text))
    assert problem.file == "framework.yaml"
    assert problem.line == line_of(text, 'text: {en: "The second."}')
    assert (problem.where, problem.field) == ("component “2”", "text")
    assert problem.message == "missing the Welsh (cy)"


def test_empty_welsh(tmp_path):
    text = GOOD.replace('cy: "Dau"', 'cy: "  "')
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.where, problem.field) == ("component “2”", "title.cy")
    assert problem.line == line_of(text, 'cy: "  "')
    assert problem.message == "the Welsh is empty"


def test_grade_outside_the_scale(tmp_path):
    """A level whose grade is outside min..max is refused, and the grade it left without a level too."""
    text = GOOD.replace('{grade: 3, label: {en: "Done"', '{grade: 4, label: {en: "Done"')
    problems = problems_of(write(tmp_path, text))
    outside = next(p for p in problems if p.field == "scale.levels.2.grade")
    assert outside.line == line_of(text, "grade: 4")
    assert outside.message == "grade 4 is outside the scale 1 to 3"
    assert str(outside) == f"framework.yaml:{outside.line}: scale.levels.2.grade: grade 4 is outside the scale 1 to 3"
    assert any(p.field == "scale.levels" and p.message == "no level for grade 3" for p in problems)


def test_unknown_owner_and_unquoted_id(tmp_path):
    """An owner not declared under `owners` is refused; so is an id YAML would read as a number."""
    text = GOOD.replace("owners: [boards]", "owners: [board]").replace('id: "2"', "id: 1.10")
    problems = {(p.where, p.field): p for p in problems_of(write(tmp_path, text))}
    number = problems[("component “1.1”", "id")]
    assert number.line == line_of(text, "id: 1.10")
    assert "write the id in quotes" in number.message
    # The schema problem stops loading before the owners are checked; fix it and the owner shows.
    text = text.replace("id: 1.10", 'id: "1.10"')
    [owner] = problems_of(write(tmp_path, text))
    assert (owner.where, owner.field, owner.line) == ("component “1”", "owners.0", line_of(text, "owners: [board]"))
    assert owner.message == "no owner “board” (owners: boards)"


def test_all_problems_at_once(tmp_path):
    """Several problems in one file are all reported, in one error."""
    text = GOOD.replace('id: "2"', 'id: "1"').replace("owners: [boards]", "owners: [nobody]")
    assert len(check_framework(write(tmp_path, text))) == 2


def test_not_yaml_and_not_a_mapping(tmp_path):
    [problem] = check_framework(write(tmp_path, "id: [unclosed\n"))
    assert problem.message.startswith("not valid YAML") and problem.line
    [problem] = check_framework(write(tmp_path, "- just a list\n"))
    assert "a framework is a mapping" in problem.message


# --- the 12Cs ------------------------------------------------------------------------------


def test_12cs_template_is_refused_until_the_published_wording_is_added():
    """The template loads as nothing: every placeholder is named, with what to do."""
    problems = problems_of(TEMPLATE_12CS)
    assert "12 of its 12 components are placeholders" in problems[0].message
    assert "published wording must be added" in problems[0].message
    placeholders = problems[1:]
    assert len(placeholders) == 12
    assert {p.field for p in placeholders} == {"placeholder"}
    assert all("published wording must be added" in p.message for p in placeholders)
    text = TEMPLATE_12CS.read_text(encoding="utf-8")
    assert placeholders[0].line == line_of(text, "        placeholder: true")


def test_12cs_template_has_the_two_groups_of_the_issue():
    """Two groups, "practitioners and agencies" and "structures and processes", 12 placeholders."""
    doc = yaml.safe_load(TEMPLATE_12CS.read_text(encoding="utf-8"))
    assert [g["title"]["en"] for g in doc["groups"]] == ["Practitioners and agencies", "Structures and processes"]
    components = [c for g in doc["groups"] for c in g["components"]]
    assert len(components) == 12
    assert all(c["placeholder"] is True for c in components)
    assert all(
        c[key][lang].startswith("PLACEHOLDER") for c in components for key in ("title", "text") for lang in ("en", "cy")
    )


def _filled(text: str) -> str:
    """The template with fictional test wording in place of every placeholder."""
    text = re.sub(r"^\s+placeholder: true\n", "", text, flags=re.M)
    text = re.sub(r'"PLACEHOLDER: component (\d+)[^"]*"', r'"Test component \1"', text)
    text = re.sub(r'"PLACEHOLDER: cydran (\d+)[^"]*"', r'"Cydran prawf \1"', text)
    text = text.replace('"PLACEHOLDER: add the published wording of this component."', '"Test wording."')
    return text.replace('"PLACEHOLDER: ychwanegwch eiriad cyhoeddedig y gydran hon."', '"Geiriad prawf."')


def test_a_filled_12cs_copy_loads(tmp_path):
    """A board's copy with the wording added (here fictional test wording) loads as a framework."""
    fw = load_framework(write(tmp_path, _filled(TEMPLATE_12CS.read_text(encoding="utf-8")), "12cs.yaml"))
    assert fw.id == "12cs"
    assert len(fw.components) == 12
    assert [g.title["en"] for g in fw.groups] == ["Practitioners and agencies", "Structures and processes"]
    assert fw.component("c12").title == {"en": "Test component 12", "cy": "Cydran prawf 12"}


def test_a_copy_with_the_flag_removed_but_the_wording_left_is_still_refused(tmp_path):
    """Deleting `placeholder: true` without replacing the words is not enough."""
    text = re.sub(r"^\s+placeholder: true\n", "", TEMPLATE_12CS.read_text(encoding="utf-8"), flags=re.M)
    problems = problems_of(write(tmp_path, text, "12cs.yaml"))
    assert len(problems) == 13
    assert problems[1].where == "component “c1”" and problems[1].field == "text"


def test_command_line_check(tmp_path, capsys):
    """`python -m cylch.reviews.frameworks FILE` prints problems, or a summary of a good file."""
    assert frameworks.main([str(RR_FILE)]) == 0
    assert "rapid-review-2023@1, 6 groups, 20 components, grades 1 to 4" in capsys.readouterr().out
    assert frameworks.main([str(TEMPLATE_12CS)]) == 1
    assert "12cs-template.yaml:" in capsys.readouterr().out
