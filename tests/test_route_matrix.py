"""The access policy at the edge: every page and every API operation, as every role.

``tests/route_matrix.yaml`` declares who may use each route; ``tests/route_world.py`` builds the
records (once for the module, rolled back at the end, as ``test_access_matrix.py`` does). The
first tests fail when a route exists that the matrix does not declare, or the matrix declares
one that no longer exists. Then each route is requested, GET and (for a route that writes) POST,
by each role's user, by nobody signed in, and through the API by each organisation's system,
with the id of a record the role may see (``mine``), of one in another local authority and
board area nobody here works with (``theirs``) and of one that does not exist (``guessed``):

* allowed: success (200 or a redirect; an allowed write the matrix marks ``changes`` must
  change the database);
* not allowed: 403 or 404 (or what the route declares a refusal looks like), nothing of the
  record in the body, nothing changed in the database;
* never a server error (the test client raises it);
* nobody signed in: sent to sign in (pages) or 401 (API);
* nothing recorded on the theirs side ever reaches a mine-side user, whatever the route.

Each case is one test named ``route method who case``, so a failure says which.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from cylch.api import api
from tests import route_world

MATRIX = yaml.safe_load(Path(__file__).with_name("route_matrix.yaml").read_text(encoding="utf-8"))
ANONYMOUS = "anonymous"
CASES = ("mine", "theirs", "guessed")
REF = re.compile(r"^\$(?:(mine|theirs)\.)?([a-z_]+)$")


# --- what exists, and what the matrix declares --------------------------------------------------


def resolver_routes() -> list[str]:
    """Every URL pattern, includes walked, as the resolver prints it."""

    def walk(patterns, prefix: str):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return sorted(set(walk(get_resolver().url_patterns, "")))


def api_operations() -> list[str]:
    """Every django-ninja operation, as ``METHOD /api/v1/path``."""
    paths = api.get_openapi_schema()["paths"]
    return sorted(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops)


def _api_route(pattern: str) -> str | None:
    """The OpenAPI path a resolver pattern under api/v1/ serves (``<person_id>`` -> ``{person_id}``)."""
    if not pattern.startswith("api/v1/"):
        return None
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)


def _prefix_of(pattern: str) -> str | None:
    return next((p for p in MATRIX.get("prefixes", {}) if pattern.startswith(p)), None)


def expand(names: str | list[str]) -> frozenset[str]:
    """Role names from roles and groups (``anyone`` stays itself)."""
    out: set[str] = set()
    for name in [names] if isinstance(names, str) else names:
        if name in MATRIX["groups"]:
            out |= expand(MATRIX["groups"][name])
        else:
            out.add(name)
    return frozenset(out)


def test_the_groups_name_only_real_roles_and_callers():
    """A typo in a group or a ``who`` would silently deny a role; every name must be a role, an
    API caller or ``anyone``."""
    known = set(route_world.USER_ROLES) | {"anyone"} | set(MATRIX["groups"])
    callers = set(expand("tokens"))
    for section in ("pages", "prefixes", "api"):
        for route, spec in MATRIX.get(section, {}).items():
            names = expand(spec["who"])
            unknown = names - known - (callers if section == "api" else set())
            assert not unknown, f"{route}: unknown roles {sorted(unknown)}"


def test_every_route_is_declared():
    """A page added without a line in tests/route_matrix.yaml fails here (docs/access.md says how)."""
    operations = {op.split(" ", 1)[1] for op in api_operations()}
    undeclared = [
        p
        for p in resolver_routes()
        if p not in MATRIX["pages"] and _prefix_of(p) is None and _api_route(p) not in operations
    ]
    assert undeclared == [], "declare these routes in tests/route_matrix.yaml: " + ", ".join(undeclared)


def test_every_api_operation_is_declared():
    undeclared = sorted(set(api_operations()) - set(MATRIX["api"]))
    assert undeclared == [], "declare these operations in tests/route_matrix.yaml: " + ", ".join(undeclared)


def test_every_declared_route_exists():
    """A route removed or renamed must leave the matrix too, so the matrix never tests a ghost."""
    routes = resolver_routes()
    gone = sorted(set(MATRIX["pages"]) - set(routes))
    gone += [p for p in MATRIX.get("prefixes", {}) if not any(r.startswith(p) for r in routes)]
    gone += sorted(set(MATRIX["api"]) - set(api_operations()))
    assert gone == [], "these routes no longer exist: " + ", ".join(gone)


# --- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    section: str  # pages or api
    route: str  # the key in the matrix
    path: str  # the pattern to fill: resolver pattern, or the API path
    spec: dict
    who: str  # a role, an API caller, or anonymous
    case: str  # -, mine, theirs, guessed, or an extra case's name
    method: str

    @property
    def id(self) -> str:
        return f"{self.route or '/'} {self.method} {self.who} {self.case}"


def _refs(value: Any):
    if isinstance(value, str):
        match = REF.match(value)
        if match:
            yield match.groups()
    elif isinstance(value, dict):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


def _has_records(spec: dict) -> bool:
    """A route whose parameters name records gets the three cases; any other just one."""
    return any(side is None for side, _key in _refs([spec.get(k) for k in ("args", "query", "body", "json")]))


def _specs():
    """(section, route, pattern to fill, spec) for every declared route; prefixes expand to theirs."""
    for route, spec in MATRIX["pages"].items():
        yield "pages", route, route, spec
    for prefix, spec in MATRIX.get("prefixes", {}).items():
        for pattern in resolver_routes():
            if pattern.startswith(prefix) and pattern not in MATRIX["pages"]:
                yield "pages", pattern, pattern, {**spec, "args": {**_admin_args(pattern), **spec.get("args", {})}}
    for op, spec in MATRIX["api"].items():
        method, path = op.split(" ", 1)
        yield "api", op, path, {**spec, "methods": [method]}


def _admin_args(pattern: str) -> dict[str, str]:
    """The Django admin's parameters: an app, an object (the system administrator's own account)
    and a path no page has."""
    fill = {"app_label": "access", "url": "not-a-page/", "content_type_id": "$mine.admin_content_type"}
    names = re.findall(r"<(?:\w+:)?(\w+)>", pattern) + re.findall(r"\(\?P<(\w+)>", pattern)
    return {name: fill.get(name, "$mine.admin_object") for name in names}


def _xfail(spec: dict, who: str, case: str, method: str) -> str | None:
    for hole in spec.get("xfail", []):
        if (
            (hole.get("roles", "*") == "*" or who in expand(hole["roles"]))
            and (hole.get("cases", "*") == "*" or case in hole["cases"])
            and (hole.get("methods", "*") == "*" or method in hole["methods"])
        ):
            return hole["reason"]
    return None


def all_cases() -> list[Case]:
    cases = []
    for n, (section, route, path, spec) in enumerate(_specs()):
        callers = sorted(expand("tokens")) if section == "api" else route_world.USER_ROLES
        if "sample" in spec:  # a prefix's patterns: its roles, and others in turn (see the matrix)
            others = [r for r in callers if r not in expand(spec["who"])]
            callers = sorted(expand(spec["who"]) | {others[(n * spec["sample"] + i) % len(others)]
                                                    for i in range(spec["sample"])})  # fmt: skip
        names = list(CASES) if _has_records(spec) else ["-"]
        names += list(spec.get("extra", {}))
        for method in spec.get("methods", ["GET"]):
            # A POST may differ from the GET (who may write, which cases): the `post` keys.
            spec_m = {**spec, **spec.get("post", {})} if method == "POST" else spec
            names_m = [n for n in names if n in spec_m.get("cases", names)]
            # An extra case that sends a body is about the POST.
            names_m = [n for n in names_m if method == "POST" or "body" not in spec_m.get("extra", {}).get(n, {})]
            # Nobody signed in, or a revoked token, is turned away before any id is looked at.
            for who in [ANONYMOUS, *(["revoked"] if section == "api" else [])]:
                cases.append(Case(section, route, path, spec_m, who, names_m[0], method))
            for who in callers:
                for name in names_m:
                    # An extra case may say what its refusal looks like (`denied`, `ok`).
                    extra = spec_m.get("extra", {}).get(name, {})
                    spec_c = {**spec_m, **{k: v for k, v in extra.items() if k in ("denied", "ok")}}
                    cases.append(Case(section, route, path, spec_c, who, name, method))
    return cases


def _params():
    for c in all_cases():
        reason = _xfail(c.spec, c.who, c.case, c.method)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(c, id=c.id, marks=marks)


# --- expectations -------------------------------------------------------------------------------


def expectation(c: Case) -> str:
    """ok, identity, existence, denied, sign-in (pages) or unauthorised (API)."""
    spec = c.spec
    who = expand(spec["who"])
    if c.who in (ANONYMOUS, "revoked") and "anyone" not in who:
        return "unauthorised" if c.section == "api" else "sign-in"
    allowed = "anyone" in who or c.who in who
    if c.case in ("-", "mine"):
        return "ok" if allowed else "denied"
    if c.case == "theirs":
        mode = spec.get("theirs", "denied")
        return {"denied": "denied", "allowed": "ok"}.get(mode, mode) if allowed else "denied"
    if c.case == "guessed":
        return "ok" if allowed and spec.get("guessed") == "allowed" else "denied"
    if spec.get("extra", {}).get(c.case, {}).get("as_case") == "mine":  # the mine record, odd parameters
        return "ok" if allowed else "denied"
    return "denied"  # an extra case: ids that do not belong together


# --- the world ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module and rolled back at the end; each test runs in a savepoint."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = route_world.build()
            _admin_refs(built)
            built.objects["client"] = Client()
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def _admin_refs(world) -> None:
    from django.contrib.contenttypes.models import ContentType

    admin = world.users["admin"]
    world.refs["mine"]["admin_object"] = str(admin.pk)
    world.refs["mine"]["admin_content_type"] = str(ContentType.objects.get_for_model(admin).pk)


def writes() -> int:
    """How many rows this connection has inserted, updated or deleted so far: a refused request
    must leave it where it was."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT total_changes()")
        else:  # the current transaction's own counts, table by table
            cursor.execute(
                "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables"
                " WHERE relname <> 'django_session'"
            )
        return int(cursor.fetchone()[0])


GUESSES = {
    "uuid": lambda key: str(uuid.uuid5(uuid.NAMESPACE_URL, f"cylch-route-matrix/{key}")),
    "int": lambda key: "987654321",
    "reference": lambda key: "ZZZZ-9999-" + _check("ZZZZ9999"),
    "text": lambda key: f"zz-nobody-{key.replace('_', '-')}",
}


def _check(data: str) -> str:
    from cylch.reports.reference import check_character

    return check_character(data)


def _shape(value: str) -> str:
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value):
        return "uuid"
    if value.isdigit():
        return "int"
    if re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]", value):
        return "reference"
    return "text"


def resolve(value: Any, c: Case, world, used: list[tuple[str, str]]) -> Any:
    """Put the case's records into a parameter, body or query, noting which records were used."""
    if isinstance(value, dict):
        return {k: resolve(v, c, world, used) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, c, world, used) for v in value]
    if not isinstance(value, str) or not REF.match(value):
        return value
    side, key = REF.match(value).groups()
    if side is None:  # the case's side; an extra case names its sides, else it is about mine
        side = c.case if c.case in ("theirs", "guessed") else "mine"
    if side == "guessed":
        return GUESSES[_shape(world.refs["mine"].get(key) or world.refs["theirs"][key])](key)
    used.append((side, key))
    return world.refs[side][key]


def _fill(path: str, args: dict[str, Any]) -> str:
    """A URL from a resolver pattern (``<conv:name>``, ``(?P<name>...)``) or an API path (``{name}``)."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(args[m.group(1)]), path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), path)
    path = re.sub(r"\{(\w+)\}", lambda m: str(args[m.group(1)]), path)
    path = path.replace("^", "").replace("$", "")
    return path if path.startswith("/") else "/" + path


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", errors="ignore")


def request(c: Case, world):
    """Make the case's request; returns (response, records used)."""
    used: list[tuple[str, str]] = []
    spec = c.spec
    extra = spec.get("extra", {}).get(c.case, {})
    args = resolve({**spec.get("args", {}), **extra.get("args", {})}, c, world, used)
    query = resolve({**spec.get("query", {}), **extra.get("query", {})}, c, world, used)
    url = _fill(c.path, args)
    # One client for the module: a new one loads the middleware again (WhiteNoise indexes every
    # static file), which was most of each request's time.
    client = world.objects["client"]
    client.cookies.clear()
    client.defaults.pop("HTTP_AUTHORIZATION", None)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    if c.section == "api":
        if c.who != ANONYMOUS:
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {world.tokens[c.who]}"
        if c.method == "GET":
            return client.get(url, query), used
        payload = resolve({**spec.get("json", {}), **extra.get("json", {})}, c, world, used)
        return client.post(url + _qs(query), data=json.dumps(payload), content_type="application/json"), used
    if c.who != ANONYMOUS:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[c.who]
    if c.method == "GET":
        return client.get(url, query), used
    data = resolve({**spec.get("body", {}), **extra.get("body", {})}, c, world, used)
    for name, f in spec.get("files", {}).items():
        data[name] = SimpleUploadedFile(f["name"], f["content"].encode())
    return client.post(url + _qs(query), data), used


def _qs(query: dict) -> str:
    return "?" + urlencode(query) if query else ""


@pytest.mark.parametrize("c", list(_params()))
def test_route(c: Case, world, db, demo_hub):
    # The module's sessions outlive the idle expiry's touch interval; moving it on is a write
    # that is not the request's doing.
    demo_hub.CYLCH_SESSION_TOUCH_SECONDS = demo_hub.SESSION_COOKIE_AGE = 10**9
    expected = expectation(c)
    before = writes()
    response, used = request(c, world)
    body = _body(response)
    status = response.status_code
    where = response.get("Location", "")
    spec = c.spec
    if expected == "sign-in":
        assert status == 302 and where.startswith("/sign-in/"), (status, where)
    elif expected == "unauthorised":
        assert status == 401, (status, body[:300])
    elif expected == "denied":
        refusals = spec.get("denied", [403, 404])
        assert status in refusals, f"expected a refusal {refusals}, got {status} {where} {body[:300]}"
        if status == 302 and spec.get("denied_to"):
            assert where.startswith(spec["denied_to"]), where
    else:
        oks = spec.get("ok", [200, 201] if c.section == "api" else [200, 302])
        assert status in oks, f"expected success {oks}, got {status} {where} {body[:300]}"
        if c.section == "pages" and status == 302 and "anyone" not in expand(spec["who"]) and not spec.get("signs_out"):
            assert not where.startswith(("/sign-in/", "/admin/login/")), f"sent to sign in: {where}"
    # Nothing of a record the caller may not see, and never anything from the theirs side.
    leaked = [s for side, key in used if expected == "denied" for s in world.secrets[side].get(key, [])]
    leaked += world.theirs_secrets
    if not (c.case == "theirs" and expected == "identity"):
        leaked += world.identity
    found = sorted({s for s in leaked if s in body})
    assert not found, f"the response shows {found}"
    after = writes()
    if expected in ("denied", "sign-in", "unauthorised"):
        assert after == before, "a refused request changed the database"
    elif c.method == "POST" and spec.get("changes") and c.case in ("-", "mine"):
        assert after != before, "an allowed write changed nothing"
