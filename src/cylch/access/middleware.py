"""Session limits and the sign-in wall (everything but sign-in, health checks, static and the API)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

# /repository/: the public library of published, anonymised reviews (docs/reviews.md).
OPEN_PREFIXES = ("/sign-in", "/healthz", "/static/", "/api/", "/language/", "/favicon", "/report/", "/repository/")


class SessionLimitsMiddleware:
    """Ends a session after an absolute lifetime even if it is kept busy, and slides its idle
    expiry (the session cookie age) as it is used.

    The idle expiry is moved on at most once every ``CYLCH_SESSION_TOUCH_SECONDS`` rather than
    by saving the session on every request (Django's ``SESSION_SAVE_EVERY_REQUEST``): that save
    was three statements on every page and API call, for a deadline that only needs to be right
    to the minute. A session therefore ends between ``SESSION_COOKIE_AGE`` minus the touch
    interval (at most a tenth of it) and ``SESSION_COOKIE_AGE`` after its last request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        now = int(time.time())
        if request.user.is_authenticated:
            started = request.session.get("cylch_started")
            if started is None:
                request.session["cylch_started"] = now
            elif now - started > settings.CYLCH_SESSION_ABSOLUTE_SECONDS:
                logout(request)
                return redirect(f"{reverse('access:sign-in')}?expired=1")
        every = min(settings.CYLCH_SESSION_TOUCH_SECONDS, settings.SESSION_COOKIE_AGE // 10)
        if request.session.session_key is not None and now - request.session.get("cylch_touched", 0) >= every:
            request.session["cylch_touched"] = now  # saved by SessionMiddleware, with a new expiry
        return self.get_response(request)


class RequireSignInMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if not path.startswith(OPEN_PREFIXES) and path != "/":
            user = request.user
            if not user.is_authenticated:
                return redirect(f"{reverse('access:sign-in')}?next={path}")
            if not (user.is_demo and settings.DEMO_MODE) and not user.is_verified():
                logout(request)
                return redirect(reverse("access:sign-in"))
        return self.get_response(request)
