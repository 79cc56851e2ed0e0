"""Signing in: Argon2 passwords, throttling, two-factor codes for real accounts, and session limits."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import identify_hasher, make_password
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cylch.access.models import AuditEntry, LoginAttempt, User
from cylch.access.roles import Role
from tests import factories

PASSWORD = "Llanbadarn-Fawr-2026-heulwen"


@pytest.fixture
def gwen(prydderch) -> User:
    """A real (not demo) social worker at Ceredigion children's services, with a password."""
    return factories.practitioner(
        username="gwen.real",
        role=Role.SOCIAL_WORKER,
        organisation=prydderch.orgs.childrens_services,
        first_name="Gwen",
        last_name="Thomas",
        password=PASSWORD,
        language="cy",
    )


def sign_in(client, username: str, password: str, next_url: str = ""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/sign-in/", data)


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


# --- passwords -------------------------------------------------------------------------


def test_passwords_are_stored_with_argon2(gwen):
    """The stored hash is Argon2id, and it checks."""
    assert identify_hasher(gwen.password).algorithm == "argon2"
    assert gwen.password.startswith("argon2$argon2id$")
    assert gwen.check_password(PASSWORD) and not gwen.check_password(PASSWORD.upper())


def test_an_older_hash_is_upgraded_to_argon2_at_sign_in(gwen, client, real_hub):
    """A password hashed with PBKDF2 (e.g. imported) is re-hashed with Argon2 when it is next used."""
    User.objects.filter(pk=gwen.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    sign_in(client, "gwen.real", PASSWORD)
    gwen.refresh_from_db()
    assert identify_hasher(gwen.password).algorithm == "argon2"


def test_empty_boxes_are_each_named_in_the_summary_and_a_wrong_password_at_the_username(db, client, real_hub):
    page = client.post("/sign-in/", {"username": "", "password": ""}).content.decode()
    assert "There is a problem" in page and "This field is required" not in page
    assert '<a href="#id_username">Enter your username</a>' in page
    assert '<a href="#id_password">Enter your password</a>' in page
    page = client.post("/sign-in/", {"username": "nobody", "password": "x"}).content.decode()
    assert '<a href="#id_username">The username or password is not right.</a>' in page


# --- throttling ------------------------------------------------------------------------


def test_five_wrong_passwords_block_the_sixth_attempt_even_with_the_right_one(gwen, client, real_hub):
    """After five failures within the window, the right password is refused too, with a
    message saying why; each failure is logged and audited."""
    for _ in range(5):
        response = sign_in(client, "gwen.real", "not-the-password")
        assert response.status_code == 200 and "The username or password is not right." in response.content.decode()
    response = sign_in(client, "gwen.real", PASSWORD)
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert "cylch_pending_user" not in client.session and not signed_in(client)
    assert LoginAttempt.objects.filter(username="gwen.real", succeeded=False).count() == 5
    assert AuditEntry.objects.filter(action="sign_in_failed", actor_label="gwen.real").count() == 5


def test_four_wrong_passwords_still_let_the_right_one_through(gwen, client, real_hub):
    """Just under the limit, the right password goes on to the code step and clears the count."""
    for _ in range(4):
        sign_in(client, "gwen.real", "not-the-password")
    response = sign_in(client, "gwen.real", PASSWORD)
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/set-up/")


def test_the_block_lifts_when_the_window_has_passed(gwen, client, real_hub, settings):
    """Failures older than the window no longer count."""
    for _ in range(5):
        sign_in(client, "gwen.real", "not-the-password")
    settings.CYLCH_LOGIN_WINDOW_SECONDS = 0
    assert sign_in(client, "gwen.real", PASSWORD).status_code == 302


# --- two-factor ------------------------------------------------------------------------


def test_a_real_account_is_sent_to_set_up_two_factor_and_cannot_skip_it(gwen, client, real_hub):
    """The right password alone does not sign a real account in: it goes to authenticator set-up,
    and the search page sends it back to sign in."""
    response = sign_in(client, "gwen.real", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/sign-in/set-up/?next=/search/"
    assert not signed_in(client)
    blocked = client.get("/search/")
    assert blocked.status_code == 302 and blocked["Location"].startswith("/sign-in/")


def test_setting_up_an_authenticator_app_signs_the_user_in(gwen, client, real_hub):
    """The set-up page shows a secret; a correct code from it confirms the device and signs in."""
    sign_in(client, "gwen.real", PASSWORD)
    page = client.get("/sign-in/set-up/?next=/search/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=gwen, confirmed=False)
    assert page.context["secret"] in page.content.decode()
    assert not signed_in(client) and client.get("/search/").status_code == 302
    response = client.post(
        "/sign-in/set-up/?next=/search/", {"code": factories.current_totp(device), "next": "/search/"}
    )
    assert response.status_code == 302 and response["Location"] == "/search/"
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/search/").status_code == 200
    assert AuditEntry.objects.filter(action="admin", purpose="two-factor set up", actor=gwen).exists()
    assert AuditEntry.objects.filter(action="sign_in", actor=gwen).exists()
    assert client.cookies["cylch_language"].value == "cy"


def test_a_wrong_code_is_refused(gwen, client, real_hub):
    """With an enrolled app, a wrong code keeps the user out and counts as a failed attempt."""
    device = factories.confirmed_totp_device(gwen)
    response = sign_in(client, "gwen.real", PASSWORD)
    assert response["Location"] == "/sign-in/code/?next=/search/"
    wrong = f"{(int(factories.current_totp(device)) + 1) % 1000000:06d}"
    response = client.post("/sign-in/code/", {"code": wrong})
    assert response.status_code == 200 and "That code is not right" in response.content.decode()
    assert not signed_in(client)
    assert client.get("/search/").status_code == 302
    assert LoginAttempt.objects.filter(username="gwen.real", succeeded=False).count() == 1


def test_the_right_code_signs_in_and_cannot_be_used_twice(gwen, client, real_hub):
    """The current code signs Gwen in and she reaches search; the same code will not sign her in again."""
    device = factories.confirmed_totp_device(gwen)
    sign_in(client, "gwen.real", PASSWORD)
    code = factories.current_totp(device)
    response = client.post("/sign-in/code/", {"code": code, "next": "/search/"})
    assert response.status_code == 302 and response["Location"] == "/search/"
    assert signed_in(client)
    assert client.get("/search/").status_code == 200

    client.post("/sign-out/")
    sign_in(client, "gwen.real", PASSWORD)
    replay = client.post("/sign-in/code/", {"code": code})
    assert replay.status_code == 200 and not signed_in(client)


def test_a_session_without_a_verified_code_is_turned_away(gwen, client, real_hub):
    """A real account signed in by password alone (here forced) is signed out by the wall."""
    client.force_login(gwen)
    response = client.get("/search/")
    assert response.status_code == 302 and response["Location"] == "/sign-in/"
    assert not signed_in(client)


def test_demo_accounts_skip_two_factor_only_on_a_demo_hub(prydderch, client, settings):
    """On a demo hub a demo account goes straight to search; on a real hub it is refused."""
    demo = factories.demo_practitioner(
        username="demo.front",
        role=Role.FRONT_DOOR,
        organisation=prydderch.orgs.childrens_services,
        password="cylch-demo",
    )
    settings.DEMO_MODE = True
    response = sign_in(client, demo.username, "cylch-demo")
    assert response.status_code == 302 and response["Location"] == "/search/"
    assert client.get("/search/").status_code == 200
    client.post("/sign-out/")

    settings.DEMO_MODE = False
    response = sign_in(client, demo.username, "cylch-demo")
    assert "Demo accounts work only on the demo hub." in response.content.decode()
    assert not signed_in(client)
    client.force_login(demo)
    assert client.get("/search/").status_code == 302


def test_sign_in_does_not_redirect_off_site(prydderch, client, demo_hub):
    """A ``next`` pointing at another site is ignored."""
    demo = factories.demo_practitioner(
        username="demo.sw",
        role=Role.SOCIAL_WORKER,
        organisation=prydderch.orgs.childrens_services,
        password="cylch-demo",
    )
    response = sign_in(client, demo.username, "cylch-demo", next_url="https://evil.example/phish")
    assert response["Location"] == "/search/"


def test_signing_out_needs_a_post_and_is_audited(prydderch, client, demo_hub):
    """GET does not sign out (so a link cannot); POST does, and is logged."""
    client.force_login(prydderch.staff.social_worker)
    assert client.get("/sign-out/").status_code == 405
    assert signed_in(client)
    client.post("/sign-out/")
    assert not signed_in(client)
    assert AuditEntry.objects.filter(action="sign_out", actor=prydderch.staff.social_worker).exists()


# --- sessions -------------------------------------------------------------------------


def test_sessions_expire_after_half_an_hour_idle_and_each_request_extends_them(prydderch, client, demo_hub, settings):
    """Idle expiry is 30 minutes by default, ends with the browser, and slides as the session is
    used: moved on by a request once the last move is a minute old, not saved by every request."""
    assert settings.SESSION_COOKIE_AGE == 30 * 60 and settings.CYLCH_SESSION_TOUCH_SECONDS == 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    client.force_login(prydderch.staff.social_worker)
    client.get("/search/")
    key = client.session.session_key
    stored = Session.objects.get(session_key=key)
    remaining = (stored.expire_date - timezone.now()).total_seconds()
    assert 30 * 60 - 30 < remaining <= 30 * 60

    # Within the minute: the session is not written again.
    Session.objects.filter(session_key=key).update(expire_date=stored.expire_date - timedelta(minutes=5))
    client.get("/search/")
    assert Session.objects.get(session_key=key).expire_date == stored.expire_date - timedelta(minutes=5)

    # Its last move a minute old: the next request moves the expiry on to 30 minutes from now.
    session = client.session
    session["cylch_touched"] = int(time.time()) - 61
    session.save()
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=2))
    client.get("/search/")
    remaining = (Session.objects.get(session_key=key).expire_date - timezone.now()).total_seconds()
    assert 30 * 60 - 30 < remaining <= 30 * 60


def test_an_idle_session_ends(prydderch, client, demo_hub, settings):
    """With a one-second idle limit, a request after a pause finds the user signed out."""
    settings.SESSION_COOKIE_AGE = 1
    client.force_login(prydderch.staff.social_worker)
    time.sleep(1.2)
    response = client.get("/search/")
    assert response.status_code == 302 and response["Location"] == "/sign-in/?next=/search/"


def test_a_busy_session_still_ends_at_its_absolute_limit(prydderch, client, demo_hub, settings):
    """A session kept busy is ended once it is older than CYLCH_SESSION_ABSOLUTE_SECONDS: just
    under the limit it carries on; just over, the user is signed out and told why."""
    settings.CYLCH_SESSION_ABSOLUTE_SECONDS = 600
    client.force_login(prydderch.staff.social_worker)
    assert client.get("/search/").status_code == 200
    started = client.session["cylch_started"]
    assert abs(started - time.time()) < 5

    session = client.session
    session["cylch_started"] = int(time.time()) - 590
    session.save()
    assert client.get("/search/").status_code == 200

    session = client.session
    session["cylch_started"] = int(time.time()) - 610
    session.save()
    response = client.get("/search/")
    assert response.status_code == 302 and response["Location"] == "/sign-in/?expired=1"
    assert not signed_in(client)
    page = client.get(response["Location"])
    assert "Your session ended" in page.content.decode()
