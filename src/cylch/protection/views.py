"""Protection pages. Thin: parse, call a service or selector, render."""

from __future__ import annotations


def child_page(request, public_id):
    raise NotImplementedError


def meeting_page(request, meeting_id):
    raise NotImplementedError
