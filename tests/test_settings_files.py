"""The approvals and retention files: the shipped ones load, and a bad one is refused with every
problem named by file, line and place, so that a hub's administrator can fix it in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cylch.governance import approvals, retention_schedule


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _shipped(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_shipped_files_load():
    assert set(approvals.load(approvals.DEFAULT_FILE)) == set(approvals.KINDS)
    assert set(retention_schedule.load(retention_schedule.DEFAULT_FILE).classes) == set(retention_schedule.CLASSES)


def test_a_bad_approvals_file_names_every_problem_with_its_line(tmp_path):
    data = _shipped(approvals.DEFAULT_FILE)
    data["version"] = 2
    dropped = sorted(approvals.KINDS)[0]
    del data["kinds"][dropped]
    data["kinds"]["made_up_kind"] = {"enabled": True}
    path = _write(tmp_path, "approvals.yaml", data)
    lines = path.read_text(encoding="utf-8").splitlines()

    with pytest.raises(approvals.ApprovalsConfigError) as caught:
        approvals.load(path)

    problems = str(caught.value).splitlines()
    assert f"approvals.yaml:{lines.index('version: 2') + 1}: version: must be 1" in problems
    made_up = lines.index("  made_up_kind:") + 1
    assert any(
        p.startswith(f"approvals.yaml:{made_up}: kinds.made_up_kind: unknown kind; Cylch knows ") for p in problems
    )
    assert any(f"kinds: {dropped} is missing: list every kind (enabled: false switches one off)" in p for p in problems)
    assert len(problems) == 3


def test_a_retention_file_that_is_not_a_mapping_of_classes_is_refused(tmp_path):
    path = _write(tmp_path, "retention.yaml", {"version": 1, "classes": ["reports"]})
    with pytest.raises(retention_schedule.ScheduleError) as caught:
        retention_schedule.load(path)
    problems = str(caught.value).splitlines()
    assert problems[0] == "retention.yaml:2: classes: expected a mapping of record class to its rules"  # the key's line
    missing = [p for p in problems if "is missing: list every class (enabled: false keeps all of it)" in p]
    assert len(missing) == len(retention_schedule.CLASSES)


@pytest.mark.parametrize("loader", [approvals.load, retention_schedule.load])
def test_a_file_that_is_not_yaml_says_so(tmp_path, loader):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nkinds: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^broken\.yaml: not valid YAML"):
        loader(path)
