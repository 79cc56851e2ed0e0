"""A refused request is one line in the log; a server error keeps its traceback."""

from __future__ import annotations

import logging

from django.urls import reverse


def test_a_refusal_is_logged_without_a_traceback(prydderch, client, caplog):
    client.force_login(prydderch.staff.gp)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("identity:review-queue")).status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().startswith("Forbidden") and record.status_code == 403
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback():
    from cylch.core.logfilters import RefusalsWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
    record.status_code = 500
    assert RefusalsWithoutTraceback().filter(record) and record.exc_info is not None
