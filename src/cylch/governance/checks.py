"""System check: the approvals file loads, names every kind, and only real outcomes."""

from __future__ import annotations

from django.core.checks import Error, register


@register()
def check_approvals(app_configs, **kwargs):
    from cylch.governance.approvals import ApprovalsConfigError, config

    try:
        config()
    except (ApprovalsConfigError, OSError) as exc:
        return [Error(f"The approvals configuration does not load:\n{exc}", id="cylch.governance.E001")]
    return []
