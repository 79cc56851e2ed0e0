"""The server's start-up settling: every app's URL patterns loaded, then frozen out of the
garbage collector's way."""

import gc

from cylch.core.runtime import settle


def test_settle_loads_the_url_patterns_and_freezes_what_start_up_made():
    try:
        frozen = settle()
        # Frozen objects that are later freed leave the count, so compare loosely.
        assert frozen > 10_000 and gc.get_freeze_count() > 10_000
        import sys

        assert "cylch.protection.views" in sys.modules and "cylch.insight.views" in sys.modules
        # The linkage libraries and the shipped model, shared by the workers under --preload.
        from cylch.identity.linkage.online import _load

        assert "splink" in sys.modules and "duckdb" in sys.modules and _load.cache_info().currsize >= 1
    finally:
        gc.unfreeze()
