"""Log filters: a refused request is worth one line, not a traceback.

Django logs a 403 or 404 raised as an exception (``PermissionDenied``, ``Http404``) with the
whole traceback. Someone reading the log for what went wrong then wades through stacks that are
the policy working as meant; a server error (5xx) keeps its traceback.
"""

from __future__ import annotations

import logging


class RefusalsWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
