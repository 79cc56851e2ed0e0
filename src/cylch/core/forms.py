"""Helpers shared by the GOV.UK-styled forms."""


def form_errors(form) -> list[tuple[str, str]]:
    """(anchor id, message) pairs for the error summary, in field order."""
    out = []
    for name, errors in form.errors.items():
        # Radios give no id_for_label (Django leaves a group's label without one); the first
        # radio's id is the field's auto id, which is where the summary link should land.
        anchor = (form[name].id_for_label or form[name].auto_id) if name in form.fields else "main-content"
        out.extend((anchor, message) for message in errors)
    return out
