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
    """Ends a session after an absolute lifetime even if it is kept busy (idle expiry is the
    session cookie age, refreshed on each request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            started = request.session.get("cylch_started")
            now = int(time.time())
            if started is None:
                request.session["cylch_started"] = now
            elif now - started > settings.CYLCH_SESSION_ABSOLUTE_SECONDS:
                logout(request)
                return redirect(f"{reverse('access:sign-in')}?expired=1")
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
