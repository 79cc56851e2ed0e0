"""Sign-in lockout beyond tests/test_sign_in.py: per address, on the code step, and without
telling an attacker whether the account exists."""

from __future__ import annotations

import re

import pytest

from cylch.access.models import LoginAttempt, User
from cylch.access.roles import Role
from tests import factories

PASSWORD = "Llanbadarn-Fawr-2026-heulwen"


@pytest.fixture
def gwen(prydderch) -> User:
    return factories.practitioner(username="gwen.real", role=Role.SOCIAL_WORKER, password=PASSWORD,
                                  organisation=prydderch.orgs.childrens_services)  # fmt: skip


def attempt(client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post("/sign-in/", {"username": username, "password": password}, REMOTE_ADDR=address)


def normalised(response, username: str) -> str:
    """The page with what legitimately differs between two requests taken out: the CSRF token
    and the username the form echoes back."""
    text = response.content.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', text)
    return text.replace(username, "USERNAME")


def test_many_failures_from_one_address_lock_out_every_account_from_it(gwen, client, real_hub, settings):
    """Thirty failures from one address, each against a different made-up name, and the right
    password for a real account from that address is refused too; from elsewhere it works."""
    assert settings.CYLCH_LOGIN_MAX_FAILURES_PER_IP == 30
    for i in range(29):
        attempt(client, f"guess{i}", "not-the-password")
    just_under = attempt(client, "gwen.real", PASSWORD)
    assert just_under.status_code == 302  # the 29 failures did not lock the address
    client.cookies.clear()
    attempt(client, "guess29", "not-the-password")
    locked = attempt(client, "gwen.real", PASSWORD)
    assert locked.status_code == 200 and "Too many failed attempts" in locked.content.decode()
    assert LoginAttempt.objects.filter(ip_address="198.51.100.7", succeeded=False).count() == 30
    elsewhere = attempt(client, "gwen.real", PASSWORD, address="203.0.113.20")
    assert elsewhere.status_code == 302


def test_a_locked_out_answer_does_not_say_whether_the_account_exists(gwen, client, real_hub):
    """Wrong passwords, then the lockout, read the same for a real account and a made-up one:
    the same status and the same page, word for word."""
    for name in ("gwen.real", "no.such.person"):
        first = attempt(client, name, "not-the-password", address="203.0.113.1")
        for _ in range(4):
            attempt(client, name, "not-the-password", address="203.0.113.1")
        locked = attempt(client, name, "still-not-the-password", address="203.0.113.1")
        if name == "gwen.real":
            real_first, real_locked = normalised(first, name), normalised(locked, name)
            assert "Too many failed attempts" in real_locked
        else:
            assert first.status_code == locked.status_code == 200
            assert normalised(first, name) == real_first
            assert normalised(locked, name) == real_locked


def test_wrong_codes_lock_the_code_step_too(gwen, client, real_hub):
    """A password is not enough to guess the six-digit code: five wrong codes and the current,
    right one is refused."""
    device = factories.confirmed_totp_device(gwen)
    assert attempt(client, "gwen.real", PASSWORD)["Location"].startswith("/sign-in/code/")
    right = factories.current_totp(device)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    for _ in range(5):
        client.post("/sign-in/code/", {"code": wrong}, REMOTE_ADDR="198.51.100.7")
    refused = client.post("/sign-in/code/", {"code": right}, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 200 and "Too many failed attempts" in refused.content.decode()
    assert client.get("/search/").status_code == 302
