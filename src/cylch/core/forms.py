"""Helpers shared by the GOV.UK-styled forms."""


def form_errors(form) -> list[tuple[str, str]]:
    """(anchor id, message) pairs for the error summary, in field order."""
    out = []
    for name, errors in form.errors.items():
        anchor = form[name].id_for_label if name in form.fields else "main-content"
        out.extend((anchor, message) for message in errors)
    return out
