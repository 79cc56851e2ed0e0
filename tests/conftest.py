"""Shared fixtures: the Prydderch household, demo-hub settings, API clients and a real SMTP server.

The settings module reads its environment when pytest-django imports it, which happens
before this file is loaded, so run the suite with ``CYLCH_TESTING=1`` in the environment
(``make test`` does). The ``setdefault`` calls below only reach subprocesses started by tests.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

os.environ.setdefault("CYLCH_TESTING", "1")
os.environ.setdefault("CYLCH_DEMO", "1")

from tests import factories


@pytest.fixture(autouse=True)
def _fresh_linkage_model():
    """Each test's database decides its active linkage model: no model cached from another test."""
    from cylch.identity.linkage import online

    online.forget_active_model()
    online._load.cache_clear()
    yield
    online.forget_active_model()
    online._load.cache_clear()


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.once`` tests do the same whatever database the test settings name (they
    make their own hub, or use none), so the PostgreSQL pass that ``make test`` runs beside the
    SQLite pass (``CYLCH_TEST_PASS=postgresql-beside-sqlite``, scripts/test.sh) leaves them to
    the SQLite pass. Run alone, either pass runs them."""
    if os.environ.get("CYLCH_TEST_PASS") != "postgresql-beside-sqlite":
        return
    once = [item for item in items if item.get_closest_marker("once") is not None]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item.get_closest_marker("once") is None]


def pytest_runtest_setup(item):
    """``@pytest.mark.postgresql`` tests run in the PostgreSQL pass only (make test runs both
    passes; CI requires PostgreSQL, as it requires the browser for ``browser`` tests)."""
    if item.get_closest_marker("postgresql") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: this runs in the PostgreSQL pass")


@pytest.fixture(autouse=True)
def _english_to_begin_with():
    """Each test starts in English, whatever the one before it left active: a request through
    the test client leaves its user's language active in this thread (LocaleMiddleware does
    not put it back), and a Welsh-speaking user's request would make the next test's messages
    Welsh."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def demo_hub(settings):
    """A demo hub: demo accounts sign in without two-factor authentication."""
    settings.DEMO_MODE = True
    return settings


@pytest.fixture
def real_hub(settings):
    """A production hub: demo accounts are refused and every account needs a TOTP code."""
    settings.DEMO_MODE = False
    return settings


@pytest.fixture
def prydderch(db) -> factories.Prydderch:
    """The Prydderch household, its homes, and the agencies that know them."""
    return factories.prydderch_household()


@pytest.fixture
def api_client(client):
    """``api_client(organisation)`` -> a test client that sends that organisation's bearer token."""
    from cylch.access.services import api_token_create

    def make(organisation, name: str = "Agency system"):
        _token, plain = api_token_create(organisation=organisation, name=name)
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {plain}"
        return client

    return make


# --- a real SMTP server ------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_body(("plain",)).get_content()


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.original_content or envelope.content, policy=default_policy),
            )
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """An aiosmtpd server on 127.0.0.1, with Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    server = SmtpServer("127.0.0.1", _free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield server
    finally:
        controller.stop()
