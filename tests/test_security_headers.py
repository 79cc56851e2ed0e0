"""Security settings and response headers: the policy on every response, HTTPS behind a proxy,
secure cookies, the client's address behind a proxy, and a production configuration that
passes Django's deployment check.

The HTTPS behaviour is tested twice: with the test client and overridden settings (fast,
each rule on its own), and against the real server started with a production environment
(the settings module as production reads it, no override).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import override_settings

from cylch.core.security import DOWNLOAD_POLICY, forwarded_client

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
HOST = "cylch.example.org"


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    out = {}
    for part in header.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def assert_strict(csp: dict[str, list[str]]) -> None:
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert not any("unsafe" in s or s in ("*", "data:", "http:", "https:") for sources in csp.values() for s in sources)


# --- every response -----------------------------------------------------------------


def test_every_kind_of_response_carries_the_strict_policy_and_the_other_headers(prydderch, client, demo_hub):
    """A page for anyone, a page for a signed-in user, a static file, a 404, a redirect and an
    API answer all carry the strict policy, Permissions-Policy, COOP, CORP, nosniff and DENY."""
    anonymous = [client.get("/sign-in/"), client.get("/static/cylch/cylch.css"), client.get("/search/")]
    client.force_login(prydderch.staff.social_worker)
    signed_in = [client.get("/search/"), client.get("/no-such-page/"), client.get("/api/v1/openapi.json")]
    assert [r.status_code for r in anonymous + signed_in] == [200, 200, 302, 200, 404, 200]
    for response in anonymous + signed_in:
        assert_strict(policy(response))
        permissions = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
            assert feature in permissions
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response["Cross-Origin-Resource-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"


def test_pages_for_a_signed_in_user_are_not_kept_in_the_browser_cache(prydderch, client, demo_hub):
    """A child's record must not stay on a shared computer's disk: no-store once signed in."""
    assert "no-store" not in client.get("/sign-in/").get("Cache-Control", "")
    client.force_login(prydderch.staff.social_worker)
    assert client.get("/search/")["Cache-Control"] == "no-store"
    assert client.get(f"/people/{prydderch.alys.public_id}/")["Cache-Control"] == "no-store"


def test_a_download_is_sandboxed(prydderch, client, demo_hub):
    """A file sent as an attachment gets a policy that runs nothing even if rendered inline."""
    client.force_login(prydderch.staff.health_visitor)
    response = client.get("/imports/template.csv?code=health.appointment.was_not_brought")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == DOWNLOAD_POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"].startswith("text/csv")


# --- HTTPS, with the test client ----------------------------------------------------

HTTPS = {
    "CYLCH_HTTPS": True,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "ALLOWED_HOSTS": [HOST],
}


@override_settings(**HTTPS)
def test_plain_http_is_redirected_and_https_gets_hsts(db, client):
    """Without the proxy's header the request is http and goes to https; with it, HSTS is sent.
    The health check answers over http for the load balancer."""
    response = client.get("/sign-in/", HTTP_HOST=HOST)
    assert response.status_code == 301 and response["Location"] == f"https://{HOST}/sign-in/"
    assert "Strict-Transport-Security" not in response
    response = client.get("/sign-in/", HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert client.get("/healthz", HTTP_HOST=HOST).status_code == 200


@override_settings(**HTTPS)
def test_every_cookie_is_secure_on_https_whichever_view_sets_it(db, client):
    """The language cookie is set by a view with no Secure flag of its own; it goes out Secure."""
    response = client.get("/language/cy/?next=/sign-in/", HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 302
    assert response.cookies["cylch_language"]["secure"] is True


def test_over_plain_http_cookies_work_for_the_demo(db, client, demo_hub):
    """Demo, tests and development run on http://127.0.0.1: no redirect and no Secure flag,
    or the browser would drop the cookies and nobody could sign in."""
    response = client.get("/language/cy/?next=/sign-in/")
    assert response.cookies["cylch_language"]["secure"] == ""
    page = client.get("/sign-in/")
    assert page.status_code == 200 and page.cookies["csrftoken"]["secure"] == ""


@override_settings(**HTTPS, CSRF_TRUSTED_ORIGINS=[])
def test_a_cross_site_post_is_refused(db):
    """CSRF: a form posted from another origin is refused even with a valid token."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/sign-in/", HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    token = page.context["csrf_token"]
    data = {"username": "nobody", "password": "x" * 12, "csrfmiddlewaretoken": str(token)}
    refused = browser.post(
        "/sign-in/", data, HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https", HTTP_ORIGIN="https://evil.example"
    )
    assert refused.status_code == 403
    no_token = browser.post(
        "/sign-in/",
        {"username": "nobody"},
        HTTP_HOST=HOST,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_ORIGIN=f"https://{HOST}",
    )
    assert no_token.status_code == 403
    allowed = browser.post(
        "/sign-in/", data, HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https", HTTP_ORIGIN=f"https://{HOST}"
    )
    assert allowed.status_code == 200 and "The username or password is not right." in allowed.content.decode()


# --- the client's address behind a proxy ---------------------------------------------


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not from a trusted proxy: header ignored
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),  # one proxy
        ("10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # what the client wrote is never reached
        ("10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two proxies in the trusted network
        ("10.0.0.5", "", "10.0.0.5"),  # the proxy's own request (a health check)
        ("10.0.0.5", "198.51.100.7, not-an-address", "10.0.0.5"),  # garbage from a proxy: stop believing
        ("2001:db8::5", "2001:db8:1::7", "2001:db8:1::7"),
    ],
)
def test_the_client_address_is_taken_only_from_trusted_proxies(remote, forwarded, expected):
    assert forwarded_client(remote, forwarded, ("10.0.0.0/24", "2001:db8::/64")) == expected


def test_sign_in_failures_are_counted_per_client_behind_the_proxy(prydderch, client, real_hub, settings):
    """With the proxy trusted, failures count against the address it reports, not the proxy's."""
    from cylch.access.models import LoginAttempt

    settings.CYLCH_TRUSTED_PROXIES = ["127.0.0.1"]
    client.post(
        "/sign-in/", {"username": "nobody", "password": "wrong-password"}, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"
    )
    assert LoginAttempt.objects.get().ip_address == "198.51.100.7"
    settings.CYLCH_TRUSTED_PROXIES = []
    client.post("/sign-in/", {"username": "nobody", "password": "wrong-password"}, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert LoginAttempt.objects.order_by("-pk").first().ip_address == "127.0.0.1"


# --- the settings as production reads them --------------------------------------------


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it in this process; production never does.
        if k not in {"CYLCH_DEBUG", "CYLCH_DEMO", "CYLCH_TESTING", "CYLCH_HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        CYLCH_SECRET_KEY=secrets.token_urlsafe(64),
        CYLCH_ALLOWED_HOSTS=HOST,
        CYLCH_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="cylch.settings",
    )
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


SHOW = """
import json
from django.conf import settings
names = ["DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
         "LANGUAGE_COOKIE_SECURE", "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "CSRF_TRUSTED_ORIGINS",
         "SILENCED_SYSTEM_CHECKS", "CYLCH_TRUSTED_PROXIES"]
print(json.dumps({n: getattr(settings, n) for n in names}))
"""


def show_settings(env: dict[str, str]) -> dict:
    result = subprocess.run([PYTHON, "-c", SHOW], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_settings_are_https_only_and_read_the_proxy_from_the_environment(tmp_path):
    env = production_env(
        tmp_path,
        CYLCH_PROXY_SSL_HEADER="X-Forwarded-Proto: https",
        CYLCH_CSRF_TRUSTED_ORIGINS=f"https://{HOST}, https://cylch-dr.example.org",
        CYLCH_TRUSTED_PROXIES="10.0.0.0/24,10.0.1.2",
    )
    s = show_settings(env)
    assert s["DEBUG"] is False and s["SECURE_SSL_REDIRECT"] is True
    assert s["SECURE_HSTS_SECONDS"] == 31536000 and s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SECURE_HSTS_PRELOAD"] is False and s["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"] and s["LANGUAGE_COOKIE_SECURE"]
    assert s["SESSION_COOKIE_NAME"] == "__Host-cylch_session" and s["CSRF_COOKIE_NAME"] == "__Host-cylch_csrf"
    assert s["CSRF_TRUSTED_ORIGINS"] == [f"https://{HOST}", "https://cylch-dr.example.org"]
    assert s["CYLCH_TRUSTED_PROXIES"] == ["10.0.0.0/24", "10.0.1.2"]

    preload = show_settings({**env, "CYLCH_HSTS_PRELOAD": "1"})
    assert preload["SECURE_HSTS_PRELOAD"] is True and preload["SILENCED_SYSTEM_CHECKS"] == []


def test_the_demo_keeps_plain_http(tmp_path):
    s = show_settings({**production_env(tmp_path), "CYLCH_DEMO": "1"})
    assert s["SECURE_SSL_REDIRECT"] is False and s["SECURE_HSTS_SECONDS"] == 0
    assert not (s["SESSION_COOKIE_SECURE"] or s["CSRF_COOKIE_SECURE"] or s["LANGUAGE_COOKIE_SECURE"])
    assert s["SESSION_COOKIE_NAME"] == "sessionid"


@pytest.mark.parametrize("key", ["", "cylch-insecure-development-key-do-not-use-in-production"])
def test_production_refuses_to_start_without_a_real_secret_key(tmp_path, key):
    """No key, or the development key everyone can read in the repository: refused, saying why."""
    result = subprocess.run(
        [PYTHON, "-c", SHOW], env=production_env(tmp_path, CYLCH_SECRET_KEY=key), cwd=REPO,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "CYLCH_SECRET_KEY is not set" in result.stderr


def test_the_deployment_check_passes_in_production(tmp_path):
    """``cylch check --deploy --fail-level WARNING`` with a production environment: not one warning."""
    env = production_env(tmp_path, CYLCH_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    result = subprocess.run(
        [PYTHON, "-m", "cylch.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deployment_check_would_catch_a_weakened_setting(tmp_path):
    """The same check fails when HSTS is turned off, so the test above can fail."""
    env = production_env(tmp_path, CYLCH_HSTS_SECONDS="0")
    result = subprocess.run(
        [PYTHON, "-m", "cylch.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "security.W004" in result.stdout + result.stderr


# --- the real server, as production runs it ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production_server(tmp_path):
    """gunicorn with a production environment, behind a proxy that sets X-Forwarded-Proto and
    X-Forwarded-For, on a free loopback port; stopped after the test.

    Not ``cylch serve``: waitress drops X-Forwarded-* headers unless told which proxy to trust,
    so behind a TLS proxy the hub would never see https (reported; see docs/security.md).
    """
    port = _free_port()
    env = production_env(tmp_path, CYLCH_PROXY_SSL_HEADER="X-Forwarded-Proto: https", CYLCH_TRUSTED_PROXIES="127.0.0.1")
    (tmp_path / "var" / "static").mkdir(parents=True)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "cylch.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def fetch(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Host": HOST, **headers})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_production_server_behind_its_proxy(production_server):
    """Over http the hub redirects to https; through the proxy it sends HSTS, the strict policy
    and only Secure, host-only cookies; the health check answers the load balancer over http."""
    port = production_server
    plain = fetch(port, "/sign-in/", {})
    assert plain.status == 301 and plain.getheader("Location") == f"https://{HOST}/sign-in/"
    assert fetch(port, "/healthz", {}).status == 200

    page = fetch(port, "/sign-in/", {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
    assert page.status == 200
    assert page.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    csp = page.getheader("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "upgrade-insecure-requests" in csp
    cookies = page.headers.get_all("Set-Cookie")
    assert cookies and all("; Secure" in c and "SameSite=Lax" in c for c in cookies)
    assert any(c.startswith("__Host-cylch_csrf=") and "; HttpOnly" in c and "Domain" not in c for c in cookies)
