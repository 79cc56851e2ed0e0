"""System checks: the taxonomy loads and is complete before the hub starts."""

from __future__ import annotations

from django.core.checks import Error, register

from cylch.core import taxonomy


@register()
def check_taxonomy(app_configs, **kwargs):
    try:
        taxonomy.codes()
    except (taxonomy.TaxonomyError, OSError) as exc:
        return [Error(f"The concern taxonomy does not load: {exc}", id="cylch.E001")]
    missing = [d for d in taxonomy.DOMAINS if d not in taxonomy.domains()]
    if missing:
        return [Error(f"The concern taxonomy has no codes for {', '.join(missing)}", id="cylch.E002")]
    return []
