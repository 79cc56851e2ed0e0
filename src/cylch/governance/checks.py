"""System checks: the approvals file loads, names every kind, and only real outcomes; the
retention schedule loads and lists every record class (so a broken schedule stops
``cylch migrate`` or ``cylch worker`` at deployment, not the first retention run); and every
table of Cylch has a retention answer (``retention_records/coverage.py``), so a new table of
personal data is not kept for ever because nobody decided otherwise."""

from __future__ import annotations

from django.core.checks import Error, Warning, register


@register()
def check_approvals(app_configs, **kwargs):
    from cylch.governance.approvals import ApprovalsConfigError, config

    try:
        config()
    except (ApprovalsConfigError, OSError) as exc:
        return [Error(f"The approvals configuration does not load:\n{exc}", id="cylch.governance.E001")]
    return []


@register()
def check_retention_schedule(app_configs, **kwargs):
    from cylch.governance.retention_schedule import ScheduleError, load, schedule_path

    path = schedule_path()
    try:
        load(path)
    except (ScheduleError, OSError, UnicodeDecodeError) as exc:
        return [
            Error(
                f"The retention schedule does not load:\n{exc}",
                hint=f"Fix {path}, or point CYLCH_RETENTION_FILE at a schedule that loads "
                "(`cylch retention list` shows what it would do once it loads).",
                obj=str(path),
                id="cylch.governance.E002",
            )
        ]
    return []


@register()
def check_retention_coverage(app_configs, **kwargs):
    """A warning, not an error: a table added by another change should not stop a hub from
    starting, but ``tests/test_retention_coverage.py`` fails on it, so it cannot ship unplaced."""
    from cylch.governance.retention_records.coverage import coverage_problems

    return [
        Warning(problem, hint="docs/governance.md, Retention: every table has a class or a reason.",
                id="cylch.governance.W003")
        for problem in coverage_problems()
    ]  # fmt: skip
