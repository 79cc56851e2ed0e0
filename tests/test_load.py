"""The hub under load, bounded for CI (``make soak`` runs the full ten minutes).

gunicorn serves a hub the demo builder made in a PostgreSQL database of its own (dropped after),
on loopback; locust drives it from a second process with the whole mix: report submissions,
event batches, chronology reads through the API and the page, person searches, alert lists and
acknowledgements. One run of 30 seconds, the workers' memory sampled every two seconds, answers
both questions: nothing failed and nothing acknowledged was lost, and memory stayed bounded.

Run them alone with ``pytest tests/test_load.py``. They need PostgreSQL (``CYLCH_TEST_POSTGRES``,
else the server in ``DATABASE_URL``, else 127.0.0.1:5432) and skip only when it does not answer;
in ``make test`` they run once, in the PostgreSQL pass (the hub they drive is their own either
way). They need locust (in the ``dev`` and ``bench`` extras) and fail, saying so, without it.
Marked ``load``: ``pytest -m "not load"`` leaves them out of a quick run.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from cylch.core.loadtest import harness

pytestmark = pytest.mark.load


def _postgres() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return os.environ.get("CYLCH_TEST_POSTGRES") or harness.DEFAULT_POSTGRES


POSTGRES = _postgres()
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "load"
USERS, SECONDS, WARMUP = 10, 30, 15
# Growth of the workers' memory allowed after warm-up: the soak's bound (docs/bench.md). Over
# half a minute it catches only a gross leak; make soak's ten minutes catch a slower one.
BOUND = 0.10


@pytest.fixture(scope="module")
def run():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("CYLCH_TEST_POSTGRES"):
        pytest.skip("runs once, in the PostgreSQL pass of make test")
    why = harness.postgres_reachable(POSTGRES)
    if why:
        pytest.skip(f"PostgreSQL is unreachable at {POSTGRES}: {why}")
    if importlib.util.find_spec("locust") is None:
        pytest.fail("locust, the load generator, is not installed: pip install -e '.[bench]'")
    hub = harness.Hub.create(500, postgres=POSTGRES)
    try:
        # Two workers, systems sending at the practitioners' pace: each worker meets every kind of
        # request (and loads the linkage model, about 125 MB once) within the warm-up.
        result = harness.soak_run(
            hub,
            users=USERS,
            seconds=SECONDS,
            think=(0.5, 1.5),
            warmup_seconds=WARMUP,
            sample_every=2,
            bound=BOUND,
            workers=2,
            spawn_rate=USERS,
            sender_pace=1,
            csv_dir=ARTIFACTS,
        )
        (ARTIFACTS / "load.json").write_text(json.dumps(result, indent=1))  # for a failure's post-mortem
        yield result
    finally:
        hub.drop()


def test_every_kind_of_request_in_the_mix_is_made(run):
    """Reports, event batches, chronology reads (API and page), searches, alert lists and
    acknowledgements all reach the server."""
    made = {name for name, s in run["summary"]["by_name"].items() if s.get("n")}
    assert {
        "POST report",
        "POST events (10)",
        "GET chronology (API)",
        "GET chronology (page)",
        "GET search",
        "GET alerts",
        "POST alert acknowledge",
    } <= made, made


def test_no_request_fails_under_load(run):
    """Every answer is the one expected (no server error, no refusal, no time-out)."""
    assert run["summary"]["errors"] == 0, (run["summary"]["failures_sample"], run["server_errors"])
    assert run["server_errors"] == []


def test_every_acknowledged_write_is_stored_once(run):
    """Each event and report the server acknowledged is in the database, nothing of the run's
    is there that was not acknowledged, and each acknowledged alert is recorded as such. A write
    still waiting for its answer when the load generator stopped may or may not be stored: it is
    counted apart, never as acknowledged."""
    w = run["writes"]
    waiting = w["in_flight_at_stop"]
    assert w["events_acknowledged"] > 0 and w["reports_acknowledged"] > 0 and w["alert_acknowledgements"] > 0
    assert w["lost"] == 0
    assert w["unacknowledged_but_stored"] == 0
    assert w["events_stored"] == w["events_acknowledged"]
    assert w["reports_stored"] == w["reports_acknowledged"]
    before, after = run["counts_before"], run["counts_after"]
    # Reports come only from the run; events also from reports (one per child) and the rules.
    assert after["reports"] - before["reports"] == w["reports_acknowledged"] + waiting["reports_stored"]
    assert after["events"] - before["events"] >= w["events_acknowledged"] + w["reports_acknowledged"]
    assert after["alerts_acknowledged"] >= before["alerts_acknowledged"]


def test_the_audit_chain_verifies_after_the_run(run):
    assert run["checks"]["audit_chain_verifies"], run["audit_chain"]


def test_memory_stays_bounded_and_no_worker_dies(run):
    """The same workers serve throughout (none killed or recycled), and their memory after
    warm-up grows less than the bound."""
    assert run["checks"]["same_workers"]
    memory = run["memory"]
    assert memory["samples_after_warmup"] >= 5
    assert memory["growth_share"] < BOUND, memory
