"""Home, language switch, the load-balancer health check and the background-work health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache


def home(request):
    return redirect("identity:search" if request.user.is_authenticated else "access:sign-in")


def switch_language(request, code: str):
    """Switch between Cymraeg and English and stay on the same page."""
    if code not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest("Unknown language")
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/"
    response = redirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=365 * 24 * 3600, samesite="Lax")
    user = request.user
    if user.is_authenticated and user.language != code:
        get_user_model().objects.filter(pk=user.pk).update(language=code)
    return response


@never_cache
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # report, don't crash: the load balancer wants a status
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


@never_cache
def healthz_worker(request):
    """For monitoring, not the load balancer: is ``cylch worker`` running its clocks and sending
    email? 200 or 503 with what is wrong (``cylch.core.heartbeat``). ``/healthz`` stays the trivial
    check, so a stopped worker never takes the web servers out of service."""
    from cylch.core.heartbeat import worker_health

    try:
        health = worker_health()
    except Exception as exc:  # report, don't crash: the monitor wants a status
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse(health.as_json(), status=200 if health.ok else 503)
