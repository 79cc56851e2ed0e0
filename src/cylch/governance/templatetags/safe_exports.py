"""``{% export_options %}``: an export form's choices (format, language, password) for pages
whose view does not build the form itself."""

from __future__ import annotations

from django import template

from cylch.governance.exports import PROTECT, PROTECT_HINT, ExportForm

register = template.Library()


@register.inclusion_tag("governance/_export_options.html")
def export_options(*id_parts, formats: str = "", languages: bool = False, protect: bool = False, hint: bool = True):
    """The GOV.UK radios and checkbox for one export form. ``id_parts`` make the fields' ids
    unique when a page has several forms; ``formats`` ("pdf xlsx csv") shows a format choice
    when there is more than one; ``protect`` ticks the password box to begin with; ``hint``
    explains it (leave it off on all but one form of a page: the hint's id is not unique)."""
    form_id = "-".join(str(p) for p in id_parts) or "export"
    names = formats.split()
    initial = {"protect": [PROTECT]} if protect else {}
    form = ExportForm(auto_id=f"id_{form_id}_%s", formats=names, initial=initial)
    return {"form": form, "formats": len(names) > 1, "languages": languages, "hint": PROTECT_HINT if hint else ""}
