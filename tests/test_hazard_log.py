"""The hazard log (docs/safety/) holds together: every hazard has a control, every control in
place has a test that exists and cannot be skipped, every risk is its likelihood x severity on
the matrix, a hazard that still needs a control says so, and the page shows exactly the data.

The data is docs/safety/hazards.yaml; the generated parts of docs/safety/hazard-log.md are
rewritten from it with ``python -m tests.test_hazard_log --write``.
"""

from __future__ import annotations

import ast
import copy
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "safety" / "hazards.yaml"
PAGE = ROOT / "docs" / "safety" / "hazard-log.md"

NEEDED = "open — control needed"
AWAITING = "open — awaiting CSO review"
CLOSED = "closed"
WITHDRAWN = "withdrawn"
STATUSES = (NEEDED, AWAITING, CLOSED, WITHDRAWN)
CONTROL_TYPES = ("design", "test", "training")
CONTROL_STATUSES = ("in place", "planned")
CSO_PLACEHOLDER = "[Clinical Safety Officer: to be named]"
NODE_ID = re.compile(r"^(tests/(?:[\w]+/)*test_\w+\.py)::(?:(Test\w+)::)?(test_\w+)$")
HAZARD_ID = re.compile(r"^HAZ-(\d{3})$")
# The eight ways to harm issue 11 names, by the words of their titles.
NAMED_IN_ISSUE = {
    "HAZ-001": "missed link",
    "HAZ-002": "false link",
    "HAZ-003": "rule silently stops firing",
    "HAZ-004": "notification never arrives",
    "HAZ-005": "bank holiday",
    "HAZ-006": "withheld marker",
    "HAZ-007": "Welsh translation",
    "HAZ-008": "outage at the front door",
}


def load(path: Path = DATA) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# --- the tests a control may cite ----------------------------------------------------------


def _is_skip(node: ast.AST) -> bool:
    """A decorator or mark that skips or expects failure: pytest.mark.skip/skipif/xfail."""
    if isinstance(node, ast.Call):
        node = node.func
    return isinstance(node, ast.Attribute) and node.attr in ("skip", "skipif", "xfail")


def _calls_skip(body: ast.AST) -> bool:
    """A call that can skip at run time: pytest.skip(...), pytest.importorskip(...)."""
    for node in ast.walk(body):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("skip", "importorskip")
            and getattr(node.func.value, "id", "") == "pytest"
        ):
            return True
    return False


@cache
def defined_tests(path: Path) -> dict[str, bool]:
    """The tests a file defines, by node-id suffix (``name`` or ``Class::name``), each with
    whether it may be skipped (a skip/skipif/xfail mark on it, its class or its module, or a
    skip call in its body or at module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_skips = False
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            marks = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            module_skips |= any(_is_skip(m) for m in marks)
        elif isinstance(node, (ast.Expr, ast.Assign)) and _calls_skip(node):
            module_skips = True
    found: dict[str, bool] = {}

    def add(prefix: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, outer: bool) -> None:
        skips = outer or any(_is_skip(d) for d in fn.decorator_list) or _calls_skip(fn)
        found[f"{prefix}{fn.name}"] = skips

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
            add("", node, module_skips)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            class_skips = module_skips or any(_is_skip(d) for d in node.decorator_list)
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test_"):
                    add(f"{node.name}::", item, class_skips)
    return found


def why_unfit(node_id: str, root: Path) -> str | None:
    """Why ``node_id`` cannot prove a control, or None when it can."""
    match = NODE_ID.match(node_id)
    if not match:
        return "is not a pytest node id of the form tests/test_x.py::test_name"
    path = root / match[1]
    if not path.is_file():
        return f"names {match[1]}, which does not exist"
    key = f"{match[2]}::{match[3]}" if match[2] else match[3]
    defined = defined_tests(path)
    if key not in defined:
        return f"does not exist in {match[1]}"
    if defined[key]:
        return "may be skipped or is expected to fail, so it proves nothing when it does"
    return None


# --- the checker ---------------------------------------------------------------------------------


def risk_of(data: dict, likelihood: int, severity: int) -> int:
    return data["matrix"]["risk"][likelihood][severity - 1]


def problems(data: dict, root: Path = ROOT) -> list[str]:
    """Every way the log fails to hold together, one sentence each (empty when it holds)."""
    out: list[str] = []
    matrix = data.get("matrix") or {}
    for scale in ("likelihood", "severity", "acceptability"):
        if sorted(matrix.get(scale) or {}) != [1, 2, 3, 4, 5]:
            out.append(f"matrix: {scale} needs words for 1 to 5")
    grid = matrix.get("risk") or {}
    if sorted(grid) != [1, 2, 3, 4, 5] or any(len(row) != 5 or set(row) - {1, 2, 3, 4, 5} for row in grid.values()):
        out.append("matrix: risk needs five rows of five ratings from 1 to 5")
        return out
    for lk in range(1, 6):
        for sv in range(1, 6):
            if lk < 5 and grid[lk + 1][sv - 1] < grid[lk][sv - 1]:
                out.append(f"matrix: risk falls as likelihood rises at severity {sv}")
            if sv < 5 and grid[lk][sv] < grid[lk][sv - 1]:
                out.append(f"matrix: risk falls as severity rises at likelihood {lk}")

    hazards = data.get("hazards") or []
    if not hazards:
        out.append("the log has no hazards")
    seen_controls: set[str] = set()
    for index, hazard in enumerate(hazards, start=1):
        hid = str(hazard.get("id", f"hazard #{index}"))
        if not HAZARD_ID.match(hid) or int(HAZARD_ID.match(hid)[1]) != index:
            out.append(f"{hid}: ids run HAZ-001, HAZ-002 ... in order; this one should be HAZ-{index:03d}")
        for key in ("title", "causes", "effect", "harm", "grounding"):
            if not hazard.get(key):
                out.append(f"{hid}: no {key}")
        ratings = {}
        for when in ("initial", "residual"):
            rating = hazard.get(when) or {}
            lk, sv, risk = rating.get("likelihood"), rating.get("severity"), rating.get("risk")
            if lk not in range(1, 6) or sv not in range(1, 6):
                out.append(f"{hid}: {when} likelihood and severity must each be 1 to 5")
                continue
            if risk != risk_of(data, lk, sv):
                out.append(
                    f"{hid}: {when} risk is {risk} but likelihood {lk} x severity {sv} is {risk_of(data, lk, sv)}"
                )
            if not rating.get("why"):
                out.append(f"{hid}: {when} rating gives no reason (why)")
            ratings[when] = (lk, sv, risk_of(data, lk, sv))
        if len(ratings) == 2 and any(r > i for r, i in zip(ratings["residual"], ratings["initial"], strict=True)):
            out.append(f"{hid}: residual likelihood, severity or risk is higher than the initial one")

        controls = hazard.get("controls") or []
        if not controls:
            out.append(f"{hid}: has no control")
        in_place = 0
        for number, control in enumerate(controls, start=1):
            cid = str(control.get("id", f"{hid} control #{number}"))
            if cid != f"{hid}-C{number}":
                out.append(
                    f"{cid}: control ids run {hid}-C1, {hid}-C2 ... in order; this one should be {hid}-C{number}"
                )
            if cid in seen_controls:
                out.append(f"{cid}: used twice")
            seen_controls.add(cid)
            if control.get("type") not in CONTROL_TYPES:
                out.append(f"{cid}: type must be one of {', '.join(CONTROL_TYPES)}")
            if not control.get("text"):
                out.append(f"{cid}: says nothing about what the control is")
            status = control.get("status")
            tests = control.get("tests") or []
            if status not in CONTROL_STATUSES:
                out.append(f"{cid}: status must be 'in place' or 'planned'")
            elif status == "in place":
                in_place += 1
                if not tests:
                    out.append(f"{cid}: has no test")
            elif not control.get("planned"):
                out.append(f"{cid}: is planned but does not say what is coming and from where (planned)")
            if len(set(tests)) != len(tests):
                out.append(f"{cid}: cites a test twice")
            for node_id in tests:
                why = why_unfit(node_id, root)
                if why:
                    out.append(f"{cid}: {node_id} {why}")

        needed = hazard.get("needed") or []
        residual_risk = ratings.get("residual", (0, 0, 0))[2]
        status = hazard.get("status")
        if status not in STATUSES:
            out.append(f"{hid}: status must be one of: {'; '.join(STATUSES)}")
        must_be_open = []
        if needed:
            must_be_open.append("it lists controls still needed")
        if not in_place:
            must_be_open.append("it has no control in place")
        if residual_risk >= 4:
            must_be_open.append(f"its residual risk {residual_risk} cannot be accepted")
        if must_be_open and status not in (NEEDED, WITHDRAWN):
            out.append(f"{hid}: status must be '{NEEDED}' because {' and '.join(must_be_open)}")
        if status == NEEDED and not must_be_open:
            out.append(f"{hid}: says a control is needed but lists none (needed) and its controls suffice")
        if status == CLOSED:
            accepted = hazard.get("accepted") or {}
            if not accepted.get("on") or not accepted.get("by") or accepted.get("by") == CSO_PLACEHOLDER:
                out.append(f"{hid}: closed, but not accepted by a named Clinical Safety Officer on a date (accepted)")
    return out


# --- the page ---------------------------------------------------------------------------------


def _rating(data: dict, rating: dict) -> str:
    m = data["matrix"]
    lk, sv = rating["likelihood"], rating["severity"]
    risk = risk_of(data, lk, sv)
    return (
        f"**{risk} {m['acceptability'][risk]['word']}**: likelihood {lk} ({m['likelihood'][lk]['word']}) "
        f"× severity {sv} ({m['severity'][sv]['word']})"
    )


def render(data: dict) -> dict[str, str]:
    """The generated blocks of the page: the matrix, the summary and the hazards."""
    m = data["matrix"]
    matrix = ["| likelihood \\ severity | " + " | ".join(f"{s} {m['severity'][s]['word']}" for s in range(1, 6)) + " |"]
    matrix.append("|---|" + "---:|" * 5)
    for lk in range(5, 0, -1):
        matrix.append(f"| **{lk} {m['likelihood'][lk]['word']}** | " + " | ".join(str(r) for r in m["risk"][lk]) + " |")
    matrix += ["", "| likelihood | meaning |", "|---|---|"]
    matrix += [f"| {k} {v['word']} | {v['meaning']} |" for k, v in sorted(m["likelihood"].items())]
    matrix += ["", "| severity | meaning |", "|---|---|"]
    matrix += [f"| {k} {v['word']} | {v['meaning']} |" for k, v in sorted(m["severity"].items())]
    matrix += ["", "| risk | acceptability |", "|---|---|"]
    matrix += [f"| {k} | **{v['word']}.** {v['meaning']} |" for k, v in sorted(m["acceptability"].items())]

    summary = ["| id | hazard | initial risk | controls (in place / planned) | residual risk | status |"]
    summary.append("|---|---|:---:|:---:|:---:|---|")
    for h in data["hazards"]:
        placed = sum(c["status"] == "in place" for c in h["controls"])
        planned = len(h["controls"]) - placed
        summary.append(
            f"| [{h['id']}](#{h['id'].lower()}) | {h['title']} | {h['initial']['risk']} | {placed} / {planned} "
            f"| {h['residual']['risk']} | {h['status']} |"
        )

    sections = []
    for h in data["hazards"]:
        lines = [f"### {h['id']}", "", f"**{h['title']}.** Status: **{h['status']}**.", "", "Causes:", ""]
        lines += [f"- {cause}" for cause in h["causes"]]
        lines += ["", f"Effect: {h['effect']}", "", f"Possible harm: {h['harm']}", "", f"Grounding: {h['grounding']}"]
        lines += ["", f"Initial risk: {_rating(data, h['initial'])}. {h['initial']['why']}", "", "Controls:", ""]
        for c in h["controls"]:
            lines.append(f"- **{c['id']}** ({c['type']}, {c['status']}). {c['text']}")
            if c["status"] == "planned":
                lines.append(f"  Planned: {c['planned']}")
            for node_id in c.get("tests") or []:
                lines.append(f"  - `{node_id}`")
        if h.get("needed"):
            lines += ["", "Controls still needed:", ""]
            lines += [f"- {need}" for need in h["needed"]]
        lines += ["", f"Residual risk: {_rating(data, h['residual'])}. {h['residual']['why']}"]
        sections.append("\n".join(lines))
    return {"matrix": "\n".join(matrix), "summary": "\n".join(summary), "hazards": "\n\n".join(sections)}


BLOCK = re.compile(
    r"<!-- generated from hazards.yaml: (?P<name>\w+) -->\n(?P<body>.*?)<!-- end of (?P=name) -->", re.DOTALL
)


def page_problems(page: str, data: dict) -> list[str]:
    """Where the page does not show what the data says."""
    out = []
    found = {m["name"]: m["body"] for m in BLOCK.finditer(page)}
    for name, body in render(data).items():
        if name not in found:
            out.append(f"the page has no generated block '{name}'")
        elif found[name].strip() != body.strip():
            theirs, ours = found[name].strip().splitlines(), body.strip().splitlines()
            line = next(
                (i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b), min(len(theirs), len(ours))
            )
            out.append(f"the page's '{name}' differs from hazards.yaml at its line {line + 1}")
    if CSO_PLACEHOLDER not in page:
        out.append(f"the page does not name the Clinical Safety Officer, or the placeholder {CSO_PLACEHOLDER}")
    return out


def write_page(page_path: Path = PAGE, data_path: Path = DATA) -> None:
    page = page_path.read_text(encoding="utf-8")
    blocks = render(load(data_path))
    page = BLOCK.sub(
        lambda m: (
            f"<!-- generated from hazards.yaml: {m['name']} -->\n{blocks[m['name']]}\n<!-- end of {m['name']} -->"
        ),
        page,
    )
    page_path.write_text(page, encoding="utf-8")


# --- the tests -------------------------------------------------------------------------------


def test_the_hazard_log_holds_together():
    """Every hazard has a control; every control in place has a test that exists and runs; every
    risk is its likelihood x severity; a hazard that still needs a control is open and says so."""
    data = load()
    assert problems(data) == []
    assert len(data["hazards"]) >= 8


def test_the_eight_hazards_of_the_issue_are_in_the_log():
    """The ways to harm issue 11 names are hazards 1 to 8, each with controls in place."""
    hazards = {h["id"]: h for h in load()["hazards"]}
    for hid, words in NAMED_IN_ISSUE.items():
        assert words.lower() in hazards[hid]["title"].lower(), (hid, hazards[hid]["title"])
        assert any(c["status"] == "in place" for c in hazards[hid]["controls"]), hid


def test_the_page_shows_exactly_the_data():
    """The matrix, the summary and every hazard on the page are generated from hazards.yaml and
    have not been edited apart from it (python -m tests.test_hazard_log --write)."""
    assert page_problems(PAGE.read_text(encoding="utf-8"), load()) == []


def test_every_safety_control_test_is_cited_by_the_control_it_names():
    """Each test in test_safety_controls.py says in its docstring which control it proves, and
    that control cites it, so no test there is orphaned and no citation is a guess."""
    cited = {t: c["id"] for h in load()["hazards"] for c in h["controls"] for t in c.get("tests") or []}
    tree = ast.parse((ROOT / "tests" / "test_safety_controls.py").read_text(encoding="utf-8"))
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert len(functions) >= 10
    for fn in functions:
        node_id = f"tests/test_safety_controls.py::{fn.name}"
        names = re.findall(r"HAZ-\d{3}-C\d+", ast.get_docstring(fn) or "")
        assert names, f"{fn.name} names no control in its docstring"
        assert cited.get(node_id) in names, f"{fn.name} says {names}; the log cites it for {cited.get(node_id)}"


# --- the checker fails on a broken copy ------------------------------------------------------------


def _first(data: dict, hid: str) -> dict:
    return next(h for h in data["hazards"] if h["id"] == hid)


def _break_no_control(data):
    hazard = _first(data, "HAZ-006")
    hazard["controls"] = []


def _break_no_test(data):
    _first(data, "HAZ-006")["controls"][0]["tests"] = []


def _break_missing_test(data):
    _first(data, "HAZ-005")["controls"][0]["tests"][0] = "tests/test_calendar.py::test_easter_is_always_in_april"


def _break_missing_file(data):
    _first(data, "HAZ-005")["controls"][0]["tests"][0] = "tests/test_calendars.py::test_adding_working_days"


def _break_not_a_node_id(data):
    _first(data, "HAZ-005")["controls"][0]["tests"][0] = "test_adding_working_days"


def _break_risk(data):
    _first(data, "HAZ-002")["initial"]["risk"] = 2


def _break_residual_above_initial(data):
    hazard = _first(data, "HAZ-012")
    hazard["residual"].update(likelihood=4, severity=3, risk=3)


def _break_needed_but_awaiting(data):
    _first(data, "HAZ-006")["needed"] = ["A control nobody built."]


def _break_unacceptable_residual_accepted(data):
    hazard = _first(data, "HAZ-001")
    hazard["needed"] = []
    hazard["status"] = AWAITING


def _break_closed_without_cso(data):
    _first(data, "HAZ-012")["status"] = CLOSED


def _break_planned_without_saying_what(data):
    control = _first(data, "HAZ-009")["controls"][-1]
    control.update(status="planned", tests=[])
    control.pop("planned", None)


def _break_control_ids(data):
    _first(data, "HAZ-003")["controls"][1]["id"] = "HAZ-003-C9"


def _break_hazard_ids(data):
    data["hazards"][3]["id"] = "HAZ-040"


def _break_matrix(data):
    data["matrix"]["risk"][3] = [2, 2, 1, 3, 4]


BROKEN = [
    (_break_no_control, "HAZ-006: has no control"),
    (_break_no_test, "HAZ-006-C1: has no test"),
    (_break_missing_test, "test_easter_is_always_in_april does not exist in tests/test_calendar.py"),
    (_break_missing_file, "names tests/test_calendars.py, which does not exist"),
    (_break_not_a_node_id, "is not a pytest node id"),
    (_break_risk, "HAZ-002: initial risk is 2 but likelihood 3 x severity 4 is 3"),
    (_break_residual_above_initial, "HAZ-012: residual likelihood, severity or risk is higher"),
    (
        _break_needed_but_awaiting,
        "HAZ-006: status must be 'open — control needed' because it lists controls still needed",
    ),
    (
        _break_unacceptable_residual_accepted,
        "HAZ-001: status must be 'open — control needed' because its residual risk 4",
    ),
    (_break_closed_without_cso, "HAZ-012: closed, but not accepted by a named Clinical Safety Officer"),
    (_break_planned_without_saying_what, ": is planned but does not say what is coming"),
    (_break_control_ids, "HAZ-003-C9: control ids run"),
    (_break_hazard_ids, "HAZ-040: ids run HAZ-001, HAZ-002 ... in order; this one should be HAZ-004"),
    (_break_matrix, "matrix: risk falls as severity rises at likelihood 3"),
]


@pytest.mark.parametrize(("breaks", "complaint"), BROKEN, ids=[b.__name__[len("_break_") :] for b, _ in BROKEN])
def test_a_broken_copy_of_the_log_is_refused_naming_what_is_wrong(tmp_path, breaks, complaint):
    """A copy of hazards.yaml broken one way at a time, written to a file and read back like the
    real one: the checker names the fault (and the untouched log passes, above)."""
    data = load()
    breaks(data)
    broken = tmp_path / "hazards.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    found = problems(load(broken))
    assert any(complaint in p for p in found), found


def test_a_cited_test_that_may_be_skipped_is_refused(tmp_path):
    """A control cannot rest on a test that is skipped, or expected to fail, where it runs."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\n"
        "def test_runs():\n    assert True\n\n"
        "@pytest.mark.skipif(True, reason='no Chromium')\ndef test_marked():\n    assert True\n\n"
        "def test_skips_itself():\n    pytest.skip('not today')\n\n"
        "class TestGroup:\n    @pytest.mark.xfail\n    def test_expected_to_fail(self):\n        assert False\n",
        encoding="utf-8",
    )
    data = copy.deepcopy(load())
    _first(data, "HAZ-012")["controls"][0]["tests"] = [
        "tests/test_x.py::test_runs",
        "tests/test_x.py::test_marked",
        "tests/test_x.py::test_skips_itself",
        "tests/test_x.py::TestGroup::test_expected_to_fail",
    ]
    data["hazards"] = [_first(data, "HAZ-012")]
    data["hazards"][0]["id"] = "HAZ-001"
    for n, control in enumerate(data["hazards"][0]["controls"], start=1):
        control["id"] = f"HAZ-001-C{n}"
        control["tests"] = control["tests"] if n == 1 else ["tests/test_x.py::test_runs"]
    found = problems(data, root=tmp_path)
    flagged = sorted(p.split(" ")[1] for p in found if "may be skipped" in p)
    assert flagged == [
        "tests/test_x.py::TestGroup::test_expected_to_fail",
        "tests/test_x.py::test_marked",
        "tests/test_x.py::test_skips_itself",
    ], found
    assert len(found) == 3, found


def test_a_page_edited_apart_from_the_data_is_refused(tmp_path):
    """Changing a rating on a copy of the page (and not in hazards.yaml), or dropping a block,
    is caught; regenerating the copy from the data puts it right."""
    page = tmp_path / "hazard-log.md"
    text = PAGE.read_text(encoding="utf-8")
    edited = text.replace("Status: **open — control needed**", "Status: **closed**", 1)
    assert edited != text
    page.write_text(edited, encoding="utf-8")
    assert any(
        "'hazards' differs from hazards.yaml" in p for p in page_problems(page.read_text(encoding="utf-8"), load())
    )
    write_page(page)
    assert page_problems(page.read_text(encoding="utf-8"), load()) == []
    dropped = BLOCK.sub(lambda m: "" if m["name"] == "summary" else m[0], text)
    assert "the page has no generated block 'summary'" in page_problems(dropped, load())


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_page()
        print(f"wrote {PAGE.relative_to(ROOT)}")
    else:
        sys.exit("usage: python -m tests.test_hazard_log --write")
