"""Regenerate docs/access.md's policy tables: ``python -m cylch.access.docs``."""

if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cylch.settings")
    os.environ.setdefault("CYLCH_TESTING", "1")
    django.setup()
    from pathlib import Path

    from cylch.access.policy import render_markdown

    path = Path("docs/access.md")
    text = path.read_text(encoding="utf-8")
    marker = "## The policy table\n\n"
    path.write_text(text[: text.index(marker) + len(marker)] + render_markdown(), encoding="utf-8")
    print(f"wrote {path}")
