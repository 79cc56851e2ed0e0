"""Signing in through the form, as a person would, for the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import expect

PASSWORD = "cylch-demo-pass"  # what the tests' own hubs set; the demo hub's accounts use "cylch-demo"


def sign_in(page, url, username, language=None, *, password=PASSWORD, lands=r"/search/$", next_="/search/"):
    """Sign in as ``username`` with cookies cleared first. ``lands``: a pattern of the page the
    role should land on (None: anywhere but the sign-in page; False: do not check, e.g. a
    second step follows). ``language``: chosen afterwards, every time, since the choice is
    remembered for the user; the page then shows ``next_``."""
    page.context.clear_cookies()
    page.goto(f"{url}/sign-in/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").first.click()
    if lands is False:
        return
    if lands is None:
        expect(page).not_to_have_url(re.compile(r"/sign-in/"))
    else:
        expect(page).to_have_url(re.compile(lands))
    if language is not None:
        page.goto(f"{url}/language/{language}/?next={next_}")


def signer(*, language=None, **defaults):
    """``sign_in`` with this file's defaults; the language may still be given by position."""

    def signed_in(page, url, username, language=language, **options):
        return sign_in(page, url, username, language, **{**defaults, **options})

    return signed_in
