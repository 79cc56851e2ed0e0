"""How the hub's server process settles after start-up.

A long-lived server holds a few hundred thousand objects from start-up (modules, URL patterns,
templates, the taxonomy) that are never freed. Python's full garbage collections walk all of
them: on the chronology of a large family that walk was most of the slowest requests (about
150 ms in 4 of 50 page loads, measured by ``cylch bench chronology``). Freezing what exists once
start-up is done moves it out of the collector's way; objects made while serving are collected
as before.

The linkage libraries (Splink, DuckDB) and the shipped model are loaded here too, not by the
first new record a worker meets. Under ``gunicorn --preload`` settling happens once, in the
arbiter, before the workers fork: they share those pages (about 120 MB) instead of each
loading its own copy, and the freeze keeps the collector from touching (and so copying) them.
No DuckDB connection is opened here: connections are per thread and made on first use.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Load what the first request would load, then freeze every object alive. Returns how many
    objects were frozen."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (import every app's views and URL patterns now)
    _load_linkage()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _load_linkage() -> None:
    import duckdb  # noqa: F401
    import splink  # noqa: F401

    from cylch.identity.linkage.online import _load

    _load(None)  # the model shipped with Cylch, parsed once
