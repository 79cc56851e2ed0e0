"""Static checks: bandit and pip-audit findings are fixed or explained, no secret is tracked in
the repository, and no template or drawing needs inline script or style.

Explanations live in ``docs/security.md``, one table row per finding, so the reasons are read
where the rest of the security design is; these tests fail on a finding with no row, and warn
about a row whose finding has gone.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import pytest

# The same whatever database the settings name: run once, in the SQLite pass of make test.
pytestmark = pytest.mark.once

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "cylch"
DOC = REPO / "docs" / "security.md"

# --- bandit ---------------------------------------------------------------------------

# | `B603` | `src/cylch/reports/attachments.py:_scan` | why |   (several ids: `B308 B703`)
BANDIT_ROW = re.compile(r"^\|\s*`(B\d{3}(?:\s+B\d{3})*)`\s*\|\s*`([^`]+)`\s*\|\s*(.*?)\s*\|\s*$")


def explained_bandit() -> dict[tuple[str, str], str]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if m := BANDIT_ROW.match(line):
            for test_id in m[1].split():
                rows[(test_id, m[2])] = m[3]
    return rows


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def enclosing(path: Path, line: int) -> str:
    """``Class.function`` around a line, or ``<module>``: a place that survives edits above it."""
    names: list[str] = []
    nodes = list(ast.iter_child_nodes(_tree(path)))
    while nodes:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.lineno <= line <= (
                node.end_lineno or node.lineno
            ):
                names.append(node.name)
                nodes = list(ast.iter_child_nodes(node))
                break
        else:
            break
    return ".".join(names) or "<module>"


def bandit_findings() -> list[dict]:
    """bandit's findings in the Python files git tracks under src/cylch (all of them outside a
    git checkout): in a shared working tree, a file nobody has added yet is its author's to
    explain before committing it."""
    targets = ["-r", "src/cylch"]
    if shutil.which("git") and (REPO / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "src/cylch/*.py"], cwd=REPO, capture_output=True, text=True,
                                timeout=60, check=True)  # fmt: skip
        targets = listed.stdout.split()
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-f", "json", "-q", *targets],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["errors"] == [], report["errors"]
    return report["results"]


def test_every_bandit_finding_is_fixed_or_explained():
    """bandit over src/cylch: each finding has a row in docs/security.md (or a ``# nosec``
    comment in the code); a row that matches no finding any more is reported as a warning."""
    explained = explained_bandit()
    assert explained, "docs/security.md has no bandit table"
    found, unexplained = set(), []
    for r in bandit_findings():
        path = Path(r["filename"])  # "./src/..." when bandit is given files: Path drops the "./"
        key = (r["test_id"], f"{path.as_posix()}:{enclosing(REPO / path, r['line_number'])}")
        found.add(key)
        if key not in explained:
            unexplained.append(f"| `{key[0]}` | `{key[1]}` | (why) |  <- line {r['line_number']}: {r['issue_text']}")
    stale = sorted(f"{t} {w}" for t, w in explained if (t, w) not in found)
    assert not unexplained, "bandit findings with no explanation in docs/security.md:\n" + "\n".join(unexplained)
    if stale:
        # A warning, not a failure: in a shared working tree the code is often fixed before the page.
        warnings.warn(
            "docs/security.md explains bandit findings that are gone; remove the rows: " + ", ".join(stale),
            stacklevel=1,
        )
    assert all(len(reason) >= 20 for reason in explained.values()), "every row needs a real reason"


def test_the_place_of_a_finding_is_its_function():
    here = Path(__file__)
    assert enclosing(here, 1) == "<module>"
    assert enclosing(here, enclosing.__code__.co_firstlineno + 2) == "enclosing"


# --- pip-audit ------------------------------------------------------------------------

ADVISORY_ROW = re.compile(r"^\|\s*`((?:PYSEC|GHSA|CVE|OSV)-[^`]+)`\s*\|")


def test_no_dependency_has_a_known_vulnerability_left_unexplained():
    """pip-audit over the installed environment. It needs PyPI's advisory data: when that cannot
    be had (no network, or an index that only mirrors packages) the test is skipped, saying so,
    rather than passing on an audit that audited nothing."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off"],
            cwd=REPO, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("pip-audit: the advisory service did not answer within 240 s")
    if result.returncode not in (0, 1) or not result.stdout.strip():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"pip-audit could not reach the advisory service: {last[:300]}")
    deps = json.loads(result.stdout)["dependencies"]
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        reason = next((d["skip_reason"] for d in deps if "skip_reason" in d), "no dependencies listed")
        pytest.skip(f"pip-audit: the advisory service answered for none of {len(deps)} packages ({reason})")
    accepted = {m[1] for line in DOC.read_text(encoding="utf-8").splitlines() if (m := ADVISORY_ROW.match(line))}
    open_vulns = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions', [])) or 'no release yet'})"
        for d in audited
        for v in d.get("vulns", [])
        if not ({v["id"], *v.get("aliases", [])} & accepted)
    ]
    assert not open_vulns, "known vulnerabilities (upgrade, or explain in docs/security.md):\n" + "\n".join(open_vulns)


# --- secrets --------------------------------------------------------------------------

INSECURE_DEVELOPMENT_KEY = "cylch-insecure-development-key-do-not-use-in-production"
DEMO_PASSWORD = "cylch-demo"
# Stand-ins that documentation uses in example URLs; anything else in the password place is a finding.
PLACEHOLDER_PASSWORDS = {DEMO_PASSWORD, "pass", "password", "secret", "PASSWORD", "..."}

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\W{0,4}[A-Za-z0-9/+=]{40}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe live key": re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "Cylch API token": re.compile(r"\bcylch_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}"),
}
PASSWORD_IN_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"`<>]+:([^@\s/'\"`<>]+)@[^\s/'\"`<>]")
SECRET_KEY_LITERAL = re.compile(r"SECRET_KEY\s*=\s*[rbf]?['\"]([^'\"]*)['\"]")
FORBIDDEN_FILES = re.compile(
    r"(^|/)(\.env(\..+)?|id_rsa|id_ed25519|id_ecdsa|credentials\.json|.*\.(pem|key|p12|pfx|jks|keystore|sqlite3?|dump))$"
)


def secrets_in(path: str, text: str) -> list[str]:
    """What in one file looks like a secret, each named with its line."""
    found = []
    for kind, pattern in SECRET_PATTERNS.items():
        found += [f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {kind}" for m in pattern.finditer(text)]
    for m in PASSWORD_IN_URL.finditer(text):
        password = m[1]
        if password not in PLACEHOLDER_PASSWORDS and not password.startswith(("$", "{", "<", "%")):
            found.append(f"{path}:{text.count(chr(10), 0, m.start()) + 1}: password in a URL")
    for m in SECRET_KEY_LITERAL.finditer(text):
        if m[1] and not (m[1] == INSECURE_DEVELOPMENT_KEY and path == "src/cylch/settings.py"):
            found.append(f"{path}:{text.count(chr(10), 0, m.start()) + 1}: hard-coded SECRET_KEY")
    return found


def test_no_secret_is_tracked_in_the_repository():
    """Every file git tracks: no private key, cloud or service token, password in a URL or
    hard-coded Django secret key, and no key store, .env file or database file at all. The demo
    password and the development key (loaded only in demo, test and debug runs) are allowed."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing tells which files are tracked")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, timeout=60, check=True)
    paths = [p for p in listed.stdout.decode().split("\0") if p]
    assert len(paths) > 100  # the listing really is the repository
    found = [f"{p}: a file that holds keys or data" for p in paths if FORBIDDEN_FILES.search(p)]
    for p in paths:
        file = REPO / p
        if file.is_file():
            found += secrets_in(p, file.read_bytes().decode("utf-8", errors="replace"))
    assert not found, "possible secrets in tracked files:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n", "private key"),
        ("key = 'AKIA" + "Z" * 16 + "'", "AWS access key id"),
        ("aws_secret_access_key = " + "a1B2" * 10, "AWS secret access key"),
        ("token: ghp_" + "a" * 36, "GitHub token"),
        ("DATABASE_URL=postgresql://cylch:" + "Tr0ub4dor" + "@db.internal/cylch", "password in a URL"),
        ("SECRET_KEY = '" + "x" * 50 + "'", "hard-coded SECRET_KEY"),
        ("Authorization: Bearer cylch_0a1b2c3d_" + "Qx-7" * 11, "Cylch API token"),
    ],
)
def test_the_scanner_finds_each_kind_of_secret(text, kind):
    """Each pattern catches what it is for (the samples are put together here, so this file
    holds none of them whole)."""
    assert [f.split(": ", 1)[1] for f in secrets_in("sample.txt", text)] == [kind]


def test_the_scanner_allows_the_documented_stand_ins():
    text = "smtp://user:pass@host:25\npostgresql://postgres@127.0.0.1/cylch\nhttps://demo:cylch-demo@hub.example\n"
    assert secrets_in("README.md", text) == []
    line = "SECRET_KEY" + f' = "{INSECURE_DEVELOPMENT_KEY}"'  # put together, so this file holds no such line
    assert secrets_in("src/cylch/settings.py", line) == []
    assert secrets_in("src/cylch/other.py", line) != []


# --- nothing inline for the Content-Security-Policy to refuse ------------------------------

# Rendered only by WeasyPrint into PDF files, never sent to a browser as HTML.
PDF_ONLY = ("chronology/templates/chronology/export_pdf.html", "protection/templates/protection/documents/")
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_template_sent_to_a_browser_has_inline_script_or_style():
    """Every template under src/cylch/*/templates except the PDF-only ones."""
    found = []
    templates = sorted(SRC.glob("*/templates/**/*.html"))
    assert len(templates) > 20
    for path in templates:
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(PDF_ONLY):
            continue
        text = path.read_text(encoding="utf-8")
        for kind, pattern in INLINE.items():
            found += [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {kind}" for m in pattern.finditer(text)]
    assert not found, "move these into static files (docs/security.md):\n" + "\n".join(found)


def test_the_pdf_only_templates_are_only_made_into_pdf():
    """The exemption above holds only while the modules that render them write PDF."""
    for module in ("chronology/exports.py", "protection/documents.py"):
        text = (SRC / module).read_text(encoding="utf-8")
        assert "render_to_string" in text and "write_pdf()" in text
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "export_pdf.html" in text or ("documents/" in text and "TEMPLATES" in text):
            assert "write_pdf()" in text, path


def test_no_python_module_writes_a_style_attribute_or_script_into_html():
    """The inline SVG drawings (charts, family network, review charts) use presentation
    attributes and classes; ``font-style=`` is such an attribute, ``style=`` is not."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for kind, pattern in {"style attribute": re.compile(r"""[\s'"]style=\\?["']"""),
                              "inline script": INLINE["inline script"]}.items():  # fmt: skip
            found += [
                f"{path.relative_to(SRC)}:{text.count(chr(10), 0, m.start()) + 1}: {kind}"
                for m in pattern.finditer(text)
            ]
    assert not found, "\n".join(found)


def test_drawings_css_matches_the_sizes_the_drawings_are_made_for():
    """charts.MAX_WIDTH and network_svg.MIN_WIDTH live on in drawings.css; they must agree."""
    from cylch.chronology.network_svg import MIN_WIDTH
    from cylch.insight.charts import MAX_WIDTH

    css = (SRC / "core" / "static" / "cylch" / "drawings.css").read_text(encoding="utf-8")
    assert re.search(r"\.cylch-chart \{[^}]*max-width: (\d+)px", css)[1] == str(MAX_WIDTH)
    assert re.search(r"\.cylch-network \{[^}]*min-width: (\d+)px", css)[1] == str(MIN_WIDTH)
