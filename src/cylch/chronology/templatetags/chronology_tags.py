"""Chronology entries in a template: ``{% chronology_group group %}`` for one group (the person
record's latest entries), ``{% chronology_groups groups %}`` for a page of them. Both read
``chron``, ``person``, ``mark_form``, ``next`` and ``csrf_token`` from the context, as the
``chronology/_entry.html`` include did (``cylch.chronology.rendering``)."""

from __future__ import annotations

from django import template

from cylch.chronology.rendering import render_groups

register = template.Library()


def _render(context, groups):
    chron = context.get("chron")
    return render_groups(
        groups,
        person=context["person"],
        whole_family=bool(chron and chron.whole_family),
        mark_form=bool(context.get("mark_form")),
        next_url=context.get("next", ""),
        csrf_token=context.get("csrf_token"),
    )


@register.simple_tag(takes_context=True)
def chronology_group(context, group):
    return _render(context, [group])


@register.simple_tag(takes_context=True)
def chronology_groups(context, groups):
    return _render(context, groups)
