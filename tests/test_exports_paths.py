"""Every file that leaves Cylch goes through ``cylch.governance.exports`` (issue 11, item 4;
HAZ-011): no view hands out a file of its own, every module that builds a file's bytes is
delivered by a module that calls ``deliver`` or ``export_file``, and every view that calls
``deliver`` is a ``@safe_export_view`` (so a protected archive can be handed over). What each
path does with the file (audit entry, encryption, neutral cells) is proven in
tests/test_safe_exports.py, tests/test_review_report.py, tests/test_review_analysis.py and
tests/test_subject_rights.py; this test proves there is no other path."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "cylch"
EXPORTS = SRC / "governance" / "exports.py"

# Handing a file to the browser without governance.exports: only these, each for a reason.
OWN_RESPONSES = {
    "events/views.py": "the event-code CSV template: a header and an example row, no data",
    "core/security.py": "reads a download's Content-Disposition to give it a stricter Content-Security-Policy",
}
# Building a file's bytes (PDF, spreadsheet, CSV, Word) outside governance.exports: the module,
# and the modules that deliver what it builds through governance.exports (or why none need to).
BUILDERS: dict[str, tuple[str, ...] | str] = {
    "chronology/exports.py": ("chronology/views.py",),
    "protection/documents.py": ("protection/document_views.py",),
    "reviews/report_export.py": ("reviews/report_views.py",),
    "governance/rights.py": ("governance/rights.py", "governance/rights_views.py"),  # the command calls rights.py
    "events/csv_intake.py": "reads organisations' CSV files; writes only the empty template (OWN_RESPONSES)",
    "identity/management/commands/link.py": (
        "`cylch link` writes, on the operator's own server, the clusters of the ids they gave it: docs/governance.md "
        "('Not yet')"
    ),
    "core/backup/__init__.py": "backups: archives of the database on the operator's own server (docs/backup.md)",
}

RESPONSE = re.compile(
    r"Content-Disposition|FileResponse|as_attachment|content_type=[^,)]*(?:csv|pdf|spreadsheetml|wordprocessingml|zip)",
    re.IGNORECASE,
)
BUILD = re.compile(r"\.write_pdf\(|openpyxl|csv\.writer\(|from docx import|import pyzipper|ZipFile\(.*[\"']w[\"']")


def modules():
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts or path == EXPORTS:
            continue
        yield path.relative_to(SRC).as_posix(), path.read_text(encoding="utf-8")


def test_no_view_hands_out_a_file_of_its_own():
    found = {name for name, text in modules() if RESPONSE.search(text)}
    assert found == set(OWN_RESPONSES), "a file handed out without governance.exports: use deliver()"


def test_every_module_that_builds_a_file_is_delivered_through_governance_exports():
    built = {name for name, text in modules() if BUILD.search(text)}
    assert built == set(BUILDERS), f"a new file builder: list it here with the view that delivers it ({built ^ set(BUILDERS)})"  # fmt: skip
    for builder, via in BUILDERS.items():
        if isinstance(via, str):
            assert via.strip()
            continue
        module = "cylch." + builder.removesuffix(".py").replace("/", ".")
        for delivering in via:
            text = (SRC / delivering).read_text(encoding="utf-8")
            uses = re.search(r"from cylch\.governance\.exports import [^\n]*\b(deliver|export_file)\b", text)
            assert uses, f"{delivering} does not deliver through governance.exports"
            short = module.rsplit(".", 1)
            assert delivering == builder or module in text or f"from {short[0]} import" in text, (
                f"{delivering} does not use {module}"
            )


def test_every_view_that_delivers_a_file_is_a_safe_export_view():
    """``deliver`` in a view needs ``@safe_export_view`` to hand over a protected archive."""
    checked = 0
    for name, text in modules():
        if "deliver(" not in text or "governance.exports import" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef):
                continue
            calls = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
            if "deliver" not in calls:
                continue
            decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}
            helper = node.name.startswith("_")  # called by a decorated view
            assert helper or "safe_export_view" in decorators, f"{name}:{node.name} delivers without @safe_export_view"
            checked += 1
    assert checked >= 6  # chronology, three documents, the data return, the review report and analysis, rights
