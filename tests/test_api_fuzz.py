"""Schemathesis against the running hub: every operation in ``/api/v1/openapi.json``, called
over HTTP with an organisation's bearer token, answers without a server error, with a status
code, content type and body its schema declares.

The hub runs for real (Django's live server on a loopback port, the test database behind it)
with the Prydderch household in it: the GP's system, whose token the calls carry, knows the
family, Alys is on the child protection register, an alert was sent to the GP and the GP made a
report, so reads return data and not only 404s. Each generated call about a person, alert,
report or measure is also made once more with the id of a real one.

Bounded for CI (a few examples per operation); ``CYLCH_FUZZ_FULL=1`` runs many more
(``make soak``).
"""

from __future__ import annotations

import json
import os
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import requests
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cylch.access.roles import Role
from cylch.access.services import api_token_create
from cylch.events.services import record_event
from cylch.insight.measures import MEASURES
from cylch.rules.models import Alert
from tests import factories
from tests.test_protection_documents import build_registered

pytestmark = pytest.mark.django_db(transaction=True)

FULL = os.environ.get("CYLCH_FUZZ_FULL") == "1"
MAX_EXAMPLES = 300 if FULL else 8
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@dataclass
class Hub:
    url: str
    auth: dict[str, str]
    known: dict[str, list[str]]  # path parameter -> ids the GP system may read
    answered: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # operation -> statuses


@pytest.fixture
def hub(live_server, settings):
    """The live hub with data, and the GP system's token and the ids it may read. Afterwards,
    every read (and the acknowledgement) must have answered 200 at least once: the data was read."""
    settings.CYLCH_CHILD_INVITE_AGE = 18
    fam = factories.prydderch_household()
    chair = factories.demo_practitioner(
        username="menna.chair", role=Role.CONFERENCE_CHAIR, organisation=fam.orgs.childrens_services
    )
    build_registered(fam, chair)
    for org, user, days in ((fam.orgs.gp, fam.staff.gp, 40), (fam.orgs.health_visiting, fam.staff.health_visitor, 12)):
        record_event(
            organisation=org,
            code="health.appointment.was_not_brought",
            person=fam.twm,
            recorded_by=user,
            occurred_at=timezone.now() - timedelta(days=days),
            details={"service": "gp"},
        )
    _token, plain = api_token_create(organisation=fam.orgs.gp, name="GP system")
    auth = {"Authorization": f"Bearer {plain}"}
    report = requests.post(
        f"{live_server.url}/api/v1/reports",
        headers=auth,
        timeout=30,
        data=json.dumps(
            {
                "external_id": "GP-R-1",
                "children": [{"given_name": "Twm", "family_name": "Prydderch"}],
                "concern_codes": ["social_care.neglect.concern"],
                "local_authority": "ceredigion",
                "what_happened": "Twm was brought to surgery unwashed and hungry.",
            }
        ),
    )
    assert report.status_code == 201, report.text
    known = {
        "person_id": [str(p.public_id) for p in (fam.alys, fam.twm, fam.ceri, fam.dafydd, fam.efa, fam.unborn)],
        "alert_id": [str(a.public_id) for a in Alert.objects.all()],
        "reference": [report.json()["reference"]],
        "measure_id": [m.id for m in MEASURES],
    }
    assert known["alert_id"], "the two missed appointments raise an alert for the GP"
    hub = Hub(live_server.url, auth, known)
    yield hub
    reads = {op for op in hub.answered if op.startswith("GET ") or op.endswith("/acknowledge")}
    assert reads, hub.answered
    assert {op for op in reads if 200 not in hub.answered[op]} == set(), dict(hub.answered)


@pytest.fixture
def api_schema(hub, request):
    url, auth = hub.url, hub.auth
    # schemathesis 4's lazy loader renames the test after each operation through ``_nodeid``,
    # which pytest 9 no longer has (it is ``_id``): give it one to read and write.
    request.node._nodeid = request.node.nodeid
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json", headers=auth)
    schema.config.update(base_url=url, headers=auth)
    schema.config.generation.update(max_examples=MAX_EXAMPLES)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says(case, hub):
    """No 5xx, and status code, content type and body as declared, for generated input; and the
    same again with the id of a person, alert, report or measure the caller may read."""
    response = case.call_and_validate(headers=hub.auth, checks=CHECKS)
    hub.answered[case.operation.label].add(response.status_code)
    ids = {name: hub.known[name] for name in (case.path_parameters or {}) if name in hub.known}
    if ids:
        seed = zlib.crc32(json.dumps(case.path_parameters, sort_keys=True, default=str).encode())
        case.path_parameters = {**case.path_parameters, **{k: v[seed % len(v)] for k, v in ids.items()}}
        response = case.call_and_validate(headers=hub.auth, checks=CHECKS)
        hub.answered[case.operation.label].add(response.status_code)
