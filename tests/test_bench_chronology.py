"""`cylch bench chronology` at a tiny scale: the machinery builds the hub, finds exactly the
family's events, renders the page and the API, and reports ordered percentiles. No timing
thresholds: the figures belong to the benchmark, not to the tests."""

from __future__ import annotations

import os

import psycopg
import pytest

from cylch.chronology import bench

# The same whatever database the settings name: run once, in the SQLite pass of make test.
pytestmark = pytest.mark.once

EVENTS, FAMILY_EVENTS = 20_000, 200
DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("CYLCH_TEST_POSTGRES") else [])


@pytest.fixture(scope="module", params=DATABASES)
def result(request):
    return request.param, bench.run(
        request.param, EVENTS, FAMILY_EVENTS, os.environ.get("CYLCH_TEST_POSTGRES", ""), requests=8, warmup=2
    )


def test_the_family_chronology_holds_exactly_the_familys_events(result):
    """Every event about the family (a correction standing in for what it corrects) and none of
    the background's, not even those of the half-sister's mother who shares her home."""
    database, r = result
    check = r["check"]
    assert r["database"] == database
    assert r["events"] == EVENTS
    assert check["family_events"] == FAMILY_EVENTS
    assert check["corrections"] == FAMILY_EVENTS // 100
    assert check["chronology_entries"] == check["expected_entries"] == FAMILY_EVENTS - check["corrections"]
    assert check["same_events"] is True
    assert check["relationship"] == "allocated"


def test_the_page_and_the_api_show_the_chronology(result):
    """The page answers 200 with the first page's entries and the total; the API counts every
    entry and returns the first hundred."""
    _database, r = result
    check = r["check"]
    assert check["page_status"] == 200
    assert check["page_total"] == check["expected_entries"]
    assert check["page_entries"] == check["entries_on_first_page"] > 0
    assert check["api_count"] == check["expected_entries"]
    assert check["api_items"] == 100
    assert r["page"]["queries"] > 0 and r["api"]["queries"] > 0


def test_percentiles_are_positive_and_ordered(result):
    _database, r = result
    for key in ("floor_healthz", "selector", "page", "api", "page_without_gc_freeze"):
        t = r[key]
        assert t["n"] == 8
        assert 0 < t["p50_ms"] <= t["p95_ms"] <= t["max_ms"], (key, t)
    assert r["load"]["seconds"] > 0
    # Start-up objects are frozen, as the server does: a full collection walks only the rest.
    assert r["frozen_at_start"] > 0 and r["gc_heap"]["tracked_objects"] >= 0 and r["gc_heap"]["full_collection_ms"] >= 0
    assert f"| page ({r['groups_per_page']} groups) |" in bench.table([r])


@pytest.mark.skipif("postgresql" not in DATABASES, reason="CYLCH_TEST_POSTGRES is not set")
def test_no_benchmark_database_is_left_behind(result):
    """The PostgreSQL database made for the run is dropped after it."""
    with psycopg.connect(os.environ["CYLCH_TEST_POSTGRES"], autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'cylch_bench_chronology_%'").fetchall()
    assert [name for (name,) in left if name.endswith(f"_{os.getpid()}")] == []


def test_percentile_is_nearest_rank():
    ms = [float(i) for i in range(1, 101)]
    assert (bench.percentile(ms, 50), bench.percentile(ms, 95), bench.percentile(ms, 100)) == (50.0, 95.0, 100.0)
    assert bench.percentile([7.0], 95) == 7.0
