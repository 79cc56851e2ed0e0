"""`cylch stats phi|mds INPUT.csv --out OUT.csv`: the TA's statistics on a table of coded cases.

The input has a header row of indicator names and one row per case; a first column named
``case`` or ``id`` is ignored. A cell is 1 (present), 0 or empty (not known). Anything else stops
the command with the file, line and column, before any output is written.

The output goes through ``cylch.governance.exports``: an indicator name that a spreadsheet
would run as a formula is written as text, the export is audited, and ``--protect`` writes an
AES-256 ZIP (OUT with ``.zip``) instead, printing its password once on the terminal.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cylch.governance.exports import ExportFile, csv_bytes, export_file
from cylch.insight import stats

ID_COLUMNS = {"case", "id"}
PROTECT_HELP = "write OUT as an AES-256 ZIP (.zip) and print its password once"


def read_indicators(path: Path) -> tuple[list[str], np.ndarray]:
    """The indicator names and a cases × indicators 0/1 array, or a CommandError saying where."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read it ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise CommandError(f"{path}: empty file; the first line should name the indicators")
    names = [cell.strip() for cell in header]
    skip = 1 if names[0].lower() in ID_COLUMNS else 0
    indicators = names[skip:]
    for k, name in enumerate(indicators, start=skip + 1):
        if not name:
            raise CommandError(f"{path}, line 1: column {k} has no name")
    duplicates = sorted({n for n in indicators if indicators.count(n) > 1})
    if duplicates:
        raise CommandError(f"{path}, line 1: the column {duplicates[0]!r} appears more than once")
    rows = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(names):
            raise CommandError(f"{path}, line {line}: {len(row)} cells where the header has {len(names)}")
        values = []
        for name, cell in zip(indicators, row[skip:], strict=True):
            cell = cell.strip()
            if cell == "1":
                values.append(1)
            elif cell in ("0", ""):
                values.append(0)
            else:
                raise CommandError(
                    f'{path}, line {line}, column "{name}": {cell!r} is not 1 (present), 0 or empty (not known)'
                )
        rows.append(values)
    if not rows:
        raise CommandError(f"{path}: no cases below the header")
    if len(indicators) < 2:
        raise CommandError(f"{path}: at least two indicator columns are needed, found {len(indicators)}")
    return indicators, np.array(rows, dtype=np.int8)


def write_csv(path: Path, rows: list[list[str]], *, source: Path, analysis: str, protect: bool = False) -> ExportFile:
    """Write the table (neutralised, audited; encrypted with ``protect``) and return the export.

    The audit entry is written in the same transaction as the file: a file that cannot be
    written leaves no entry saying it was.
    """
    body = csv_bytes(rows, bom=False, quote_text=False, lineterminator="\n")
    target = path.with_suffix(".zip") if protect else path
    with transaction.atomic():
        made = export_file(actor=None, actor_label="cylch stats", fmt="csv", filename=path.name, body=body,
                           row_count=len(rows) - 1, protect=protect, object_type="statistics",
                           object_id=source.name, purpose=f"statistics exported ({analysis})",
                           detail={"analysis": analysis, "output": str(target)})  # fmt: skip
        try:
            target.write_bytes(made.body)
        except OSError as exc:
            raise CommandError(f"{target}: cannot write it ({exc})") from None
    return made


def number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


class Command(BaseCommand):
    help = (
        "Phi coefficients or MDS of binary indicators (docs/insight-stats.md): "
        "`cylch stats phi IN.csv --out OUT.csv [--bonferroni]`, `cylch stats mds IN.csv --out OUT.csv [--dims 2]`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        phi = sub.add_parser("phi", help="phi, chi-square p and n for every pair of indicators")
        phi.add_argument("input", type=Path, help="CSV: one row per case, 1 = present, 0 or empty = not known")
        phi.add_argument("--out", type=Path, required=True, help="CSV to write: a,b,phi,p,n")
        phi.add_argument("--bonferroni", action="store_true", help="multiply p by the number of pairs (capped at 1)")
        phi.add_argument("--protect", action="store_true", help=PROTECT_HELP)
        mds = sub.add_parser("mds", help="MDS of the indicators on the Lance and Williams dissimilarity")
        mds.add_argument("input", type=Path, help="CSV: one row per case, 1 = present, 0 or empty = not known")
        mds.add_argument("--out", type=Path, required=True, help="CSV to write: indicator,dim1,dim2,…")
        mds.add_argument("--dims", type=int, default=2, help="number of dimensions (default 2)")
        mds.add_argument("--seed", type=int, default=0, help="seed for the random starts (default 0)")
        mds.add_argument("--protect", action="store_true", help=PROTECT_HELP)

    def handle(self, *args, **opts):
        names, table = read_indicators(opts["input"])
        self._warn_constant(opts["input"], names, table)
        if opts["action"] == "phi":
            self._phi(names, table, opts)
        else:
            self._mds(names, table, opts)

    def _warn_constant(self, path: Path, names: list[str], table: np.ndarray) -> None:
        present = table.sum(axis=0)
        for name, count in zip(names, present, strict=True):
            if count == 0:
                self.stderr.write(f'{path}: "{name}" is never present; leave it out of the analysis')
            elif count == len(table):
                self.stderr.write(f'{path}: "{name}" is present in every case; its phi is undefined')

    def _phi(self, names: list[str], table: np.ndarray, opts) -> None:
        pairs = stats.phi_matrix(table, names, bonferroni=opts["bonferroni"])
        rows = [["a", "b", "phi", "p", "n"]]
        rows += [[p.a, p.b, number(p.phi, ".6f"), number(p.p, ".6g"), str(p.n)] for p in pairs]
        made = write_csv(opts["out"], rows, source=opts["input"], analysis="phi", protect=opts["protect"])
        correction = ", Bonferroni-corrected" if opts["bonferroni"] else ""
        self.stdout.write(
            f"{len(pairs)} pairs of {len(names)} indicators over {len(table)} cases{correction}: {self._where(made, opts)}"
        )
        self._password(made)

    def _mds(self, names: list[str], table: np.ndarray, opts) -> None:
        if opts["dims"] < 1:
            raise CommandError("--dims must be at least 1")
        result = stats.mds(stats.lance_williams(table), dims=opts["dims"], seed=opts["seed"])
        rows = [["indicator", *(f"dim{k}" for k in range(1, opts["dims"] + 1))]]
        # round(…) + 0.0 turns a -0.0000001 into 0.0: no "-0.000000" in the file.
        rows += [
            [name, *(format(round(v, 6) + 0.0, ".6f") for v in coords)]
            for name, coords in zip(names, result.coordinates, strict=True)
        ]
        made = write_csv(opts["out"], rows, source=opts["input"], analysis="mds", protect=opts["protect"])
        self.stdout.write(
            f"{len(names)} indicators over {len(table)} cases in {opts['dims']} dimensions: {self._where(made, opts)}"
        )
        self.stdout.write(f"normalised raw stress: {result.stress:.6f}")
        self._password(made)

    @staticmethod
    def _where(made: ExportFile, opts) -> Path:
        return opts["out"].with_suffix(".zip") if made.encrypted else opts["out"]

    def _password(self, made: ExportFile) -> None:
        """Show the archive's password once; it is kept nowhere else."""
        if made.encrypted:
            self.stdout.write(f"password (shown once; send it by a different route from the file): {made.password}")
