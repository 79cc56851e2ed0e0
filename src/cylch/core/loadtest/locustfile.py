"""The load generator's users (locust; its own process, never importing Django).

Configured from the environment by ``cylch.core.loadtest.harness``:

- ``CYLCH_LOAD_PLAN``: the plan written by ``world.prepare`` (tokens, people, names).
- ``CYLCH_LOAD_OUT``: where to write every timed request and every acknowledged write.
- ``CYLCH_LOAD_PROFILE``: ``mix`` (the hub's traffic) or ``floor`` (``/healthz`` only).
- ``CYLCH_LOAD_THINK``: ``"low,high"`` seconds each user waits between requests.
- ``CYLCH_LOAD_MEASURE_SECONDS``: how long to measure once every user has started; then stop.
- ``CYLCH_LOAD_MAX_REQUESTS``: stop once this many requests were made (0: no limit).
- ``CYLCH_LOAD_TAG``: starts every external id this run sends, so its writes can be counted.
- ``CYLCH_LOAD_SENDER_PACE``: how many times longer agency systems wait than the others (5).

The mix, by user class (locust spreads users by ``weight``; at 50 users: 10, 10 and 30):

- ``AgencySender`` (2): a GP practice's, school's, police force's or health visitors' system.
  Every 5 to 15 seconds (five times the others' pause) it sends what it has recorded since: a
  batch of 10 events about people it holds records for (one in twenty someone it has not sent
  before), or a report about a child (one in four of its requests).
- ``CaseSystem`` (2): a children's services system: a family's chronology through the API, or
  its open alerts, acknowledging the first not yet acknowledged (one in four of its requests).
- ``Practitioner`` (6): a demo practitioner signed in in the browser: a person search, or the
  chronology page of someone their organisation recorded events about.

Every response is checked (status, and that what was sent came back stored); any other outcome
is a failure. Timings before every user has started (sign-in, ramp-up) are kept apart as
warm-up; failures count whenever they happen.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from datetime import UTC, date, datetime, timedelta

import gevent
from locust import HttpUser, between, constant, events, task

PLAN = json.loads(open(os.environ["CYLCH_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
OUT = os.environ["CYLCH_LOAD_OUT"]
PROFILE = os.environ.get("CYLCH_LOAD_PROFILE", "mix")
LOW, HIGH = (float(x) for x in os.environ.get("CYLCH_LOAD_THINK", "1,3").split(","))
MAX_REQUESTS = int(os.environ.get("CYLCH_LOAD_MAX_REQUESTS", "0"))
MEASURE_SECONDS = float(os.environ.get("CYLCH_LOAD_MEASURE_SECONDS", "0"))
TAG = os.environ.get("CYLCH_LOAD_TAG", "load")
BATCH = 10
# An agency system sends every few seconds, not at a practitioner's pace.
SENDER_PACE = float(os.environ.get("CYLCH_LOAD_SENDER_PACE", "5"))


def _wait(low: float, high: float):
    return constant(low) if low == high else between(low, high)


WAIT = _wait(LOW, HIGH)

_state = {"measuring": False, "measure_from": None, "requests": 0, "stopping": False, "ready": 0}
_timings: list[tuple[str, float, float, bool]] = []  # name, start (epoch s), milliseconds, measured
_failures: list[dict] = []
_acked = {"events": [], "reports": [], "alerts": []}
# Writes sent with no answer yet: those still waiting when locust stops may or may not be stored.
_in_flight: dict[str, set[str]] = {"events": set(), "reports": set()}
_sequence = itertools.count()
_picker = {name: itertools.count() for name in ("senders", "readers", "practitioners")}


def _next(kind: str) -> dict:
    """Round-robin over the plan's systems or accounts, so each gets its share of users."""
    items = PLAN[kind]
    return items[next(_picker[kind]) % len(items)]


def _ready() -> None:
    """A user has started (a practitioner has signed in). Measuring begins when all have, so
    the sign-in of the last practitioners (a password hash each) is not counted as the load."""
    _state["ready"] += 1
    runner = _ENV["runner"]
    if not _state["measuring"] and _state["ready"] >= runner.target_user_count:
        _state["measuring"] = True
        _state["measure_from"] = time.time()
        if MEASURE_SECONDS:
            gevent.spawn_later(MEASURE_SECONDS, _stop)


def _stop() -> None:
    if not _state["stopping"]:
        _state["stopping"] = True
        _ENV["runner"].quit()


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception=None, start_time=None, **_kw):
    ok = exception is None
    _timings.append((name, start_time or time.time(), float(response_time), _state["measuring"]))
    if not ok:
        _failures.append({"name": name, "at": time.time(), "error": str(exception)[:300]})
    _state["requests"] += 1
    if MAX_REQUESTS and _state["requests"] >= MAX_REQUESTS and not _state["stopping"]:
        _state["stopped_by_request_limit"] = True
        gevent.spawn_later(0, _stop)


_ENV: dict = {}


@events.init.add_listener
def _init(environment, **_kw):
    _ENV["runner"] = environment.runner


@events.quitting.add_listener
def _write(environment, **_kw):
    out = {
        "profile": PROFILE,
        "measure_from": _state["measure_from"],
        "timings": _timings,
        "failures": _failures,
        "acked": _acked,
        "in_flight_at_stop": {k: sorted(v) for k, v in _in_flight.items()},
        "requests": _state["requests"],
        "stopped_by_request_limit": _state.get("stopped_by_request_limit", False),
    }
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(out, fh)


def _check(response, expected: tuple[int, ...]) -> dict | None:
    """The JSON body if the status is one expected, else mark the request failed."""
    if response.status_code not in expected:
        response.failure(f"{response.status_code}: {response.text[:200]}")
        return None
    try:
        return response.json() if "json" in response.headers.get("Content-Type", "") else {}
    except ValueError:
        response.failure("the body is not JSON")
        return None


class _Base(HttpUser):
    abstract = True
    wait_time = WAIT


class AgencySender(_Base):
    """An agency's system sending what it records as it happens."""

    weight = 2
    abstract = PROFILE != "mix"
    wait_time = _wait(LOW * SENDER_PACE, HIGH * SENDER_PACE)

    def on_start(self):
        self.system = _next("senders")
        self.rng = random.Random()
        self.client.headers["Authorization"] = f"Bearer {self.system['token']}"
        _ready()

    def _event(self) -> dict:
        rng, system = self.rng, self.system
        seq = next(_sequence)
        occurred = datetime.now(UTC) - timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 1440))
        if rng.random() < 0.05:
            born = date.today() - timedelta(days=rng.randint(200, 14 * 365))
            subject = {"local_id": f"{TAG}-new-{seq}", "given_name": rng.choice(["Alys", "Cai", "Elin", "Osian"]),
                       "family_name": rng.choice(["Bowen", "Parry", "Pugh", "Rees"]),
                       "date_of_birth": born.isoformat(), "sex": rng.choice(["female", "male"])}  # fmt: skip
            unborn = False
        else:
            known = rng.choice(system["subjects"])
            # The linked person's birth date decides the codes that suit them; it is not sent.
            born = date.fromisoformat(known["_born"]) if known.get("_born") else None
            unborn = known.get("_unborn", False)
            subject = {k: v for k, v in known.items() if not k.startswith("_")}
        age = None if born is None else (occurred.date() - born).days // 365
        codes = system["codes"]
        pool = codes["any"] + (codes["child"] if age is None or age < 17 else [])
        if not unborn and (age is None or age >= 17):
            pool += codes["adult"]
        code, variants = rng.choice(pool)
        return {
            "external_id": f"{TAG}-ev-{seq}",
            "code": code,
            "occurred_at": occurred.isoformat(),
            "subject": subject,
            "summary": "Sent by the load run.",
            "details": rng.choice(variants),
        }

    @task(3)
    def event_batch(self):
        batch = [self._event() for _ in range(BATCH)]
        sent = {e["external_id"] for e in batch}
        _in_flight["events"] |= sent
        with self.client.post(
            "/api/v1/events", json={"events": batch}, name=f"POST events ({BATCH})", catch_response=True
        ) as r:
            _in_flight["events"] -= sent  # answered, whatever the answer
            body = _check(r, (200,))
            if body is None:
                return
            stored = [
                row["external_id"] for row in body.get("events", []) if row.get("status") in ("created", "unchanged")
            ]
            if len(stored) != len(batch):
                r.failure(f"{len(stored)} of {len(batch)} events acknowledged")
                return
            _acked["events"].extend(stored)

    @task(1)
    def report(self):
        rng, plan = self.rng, PLAN["reports"]
        seq = next(_sequence)
        body = {
            "external_id": f"{TAG}-rep-{seq}",
            "children": [rng.choice(plan["children"])],
            "concern_codes": [rng.choice(plan["concern_codes"])],
            "what_happened": "The child said there is no food at home most days this week.",
            "local_authority": rng.choice(plan["local_authorities"]),
            "language": rng.choice(["en", "cy"]),
        }
        _in_flight["reports"].add(body["external_id"])
        with self.client.post("/api/v1/reports", json=body, name="POST report", catch_response=True) as r:
            _in_flight["reports"].discard(body["external_id"])
            got = _check(r, (201,))
            if got is None:
                return
            if not got.get("reference"):
                r.failure("no reference in the answer")
                return
            _acked["reports"].append(body["external_id"])


class CaseSystem(_Base):
    """A children's services system reading chronologies and working its alerts."""

    weight = 2
    abstract = PROFILE != "mix"

    def on_start(self):
        self.system = _next("readers")
        self.rng = random.Random()
        self.client.headers["Authorization"] = f"Bearer {self.system['token']}"
        _ready()

    @task(3)
    def chronology(self):
        person = self.rng.choice(self.system["people"])
        url = f"/api/v1/persons/{person}/chronology?whole_family=true&limit=100"
        with self.client.get(url, name="GET chronology (API)", catch_response=True) as r:
            body = _check(r, (200,))
            if body is not None and "items" not in body:
                r.failure("no items")

    @task(1)
    def alerts(self):
        with self.client.get("/api/v1/alerts", name="GET alerts", catch_response=True) as r:
            listed = _check(r, (200,))
        if not listed:
            return
        waiting = [a for a in listed if a["status"] == "raised"] or listed
        alert = waiting[0]
        with self.client.post(
            f"/api/v1/alerts/{alert['id']}/acknowledge", name="POST alert acknowledge", catch_response=True
        ) as r:
            got = _check(r, (200,))
            if got is None:
                return
            if got.get("acknowledged_at") is None:
                r.failure("the alert is not acknowledged")
                return
            _acked["alerts"].append(alert["id"])


class Practitioner(_Base):
    """A practitioner in the browser: searches, and reads chronologies of people their organisation knows."""

    weight = 6
    abstract = PROFILE != "mix"

    def on_start(self):
        self.account = _next("practitioners")
        self.rng = random.Random()
        self.client.get("/sign-in/", name="sign in")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/sign-in/",
            data={
                "username": self.account["username"],
                "password": self.account["password"],
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": f"{self.host}/sign-in/"},
            name="sign in",
            catch_response=True,
        ) as r:
            if r.status_code != 200 or "/sign-in/" in r.url:
                r.failure(f"sign-in failed for {self.account['username']} ({r.status_code}, ended at {r.url})")
        _ready()

    @task(1)
    def search(self):
        wanted = self.rng.choice(self.account["searches"])
        params = {"name": wanted["name"]}
        if wanted["dob"]:
            born = date.fromisoformat(wanted["dob"])
            params |= {"dob_day": born.day, "dob_month": born.month, "dob_year": born.year}
        with self.client.get("/search/", params=params, name="GET search", catch_response=True) as r:
            if _check(r, (200,)) is not None and "/sign-in/" in r.url:
                r.failure("sent to sign in")

    @task(1)
    def chronology(self):
        person = self.rng.choice(self.account["people"])
        with self.client.get(f"/people/{person}/chronology/", name="GET chronology (page)", catch_response=True) as r:
            if _check(r, (200,)) is not None and "/sign-in/" in r.url:
                r.failure("sent to sign in")


class Floor(_Base):
    """The floor: the trivial view (``/healthz``: the middleware stack and ``SELECT 1``)."""

    abstract = PROFILE != "floor"

    def on_start(self):
        _ready()

    @task
    def healthz(self):
        with self.client.get("/healthz", name="GET /healthz (floor)", catch_response=True) as r:
            _check(r, (200,))
