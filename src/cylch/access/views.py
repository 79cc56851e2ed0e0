"""Sign in (password, then a TOTP code), two-factor set-up, sign out."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from cylch.access.audit import audit_from_request, audit_record, client_ip
from cylch.access.forms import CodeForm, SignInForm
from cylch.access.models import User
from cylch.access.roles import CASEWORK_ROLES, Role
from cylch.access.services import sign_in_attempt_record, sign_in_throttled
from cylch.core.forms import form_errors

PENDING = "cylch_pending_user"


def start_url(user) -> str:
    """Where a role's work starts: finding a person, unless the role does not open person
    records (analysts read figures, review panels their board's reviews, administrators the admin)."""
    if user.role in CASEWORK_ROLES:
        return reverse("identity:search")
    return reverse(
        {Role.BOARD_ANALYST: "insight:index", Role.REVIEW_PANEL: "reviews:board"}.get(user.role, "admin:index")
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return "/search/"


def _finish(request, user: User, device=None):
    login(request, user, backend="cylch.access.backends.UserBackend")
    if device is not None:
        otp_login(request, device)
    request.session.pop(PENDING, None)
    sign_in_attempt_record(username=user.username, ip_address=client_ip(request), succeeded=True, user=user)
    target = _next_url(request)
    if target == "/search/":  # the default: the search page is no start for a role that cannot open people
        target = start_url(user)
    response = redirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
    return response


def demo_accounts():
    if not settings.DEMO_MODE:
        return []
    order = {role.value: i for i, role in enumerate(Role)}
    users = list(User.objects.filter(is_demo=True, is_active=True).select_related("organisation"))
    users.sort(key=lambda u: order.get(u.role, 99))
    return users


def sign_in(request):
    form = SignInForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        ip = client_ip(request)
        if sign_in_throttled(username=username, ip_address=ip):
            error = _("Too many failed attempts. Wait 15 minutes and try again, or ask your administrator to help.")
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                sign_in_attempt_record(username=username, ip_address=ip, succeeded=False)
                error = _("The username or password is not right.")
            elif user.is_demo and not settings.DEMO_MODE:
                sign_in_attempt_record(username=username, ip_address=ip, succeeded=False)
                error = _("Demo accounts work only on the demo hub.")
            elif user.is_demo:
                return _finish(request, user)
            else:
                request.session[PENDING] = user.pk
                if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                    return redirect(f"/sign-in/code/?next={_next_url(request)}")
                return redirect(f"/sign-in/set-up/?next={_next_url(request)}")
    return render(
        request,
        "access/sign_in.html",
        {
            "form": form,
            # The summary: the form's own problems, else what signing in met (at the username).
            "form_errors": form_errors(form) or ([("id_username", error)] if error else []),
            "demo_accounts": demo_accounts(),
            "next": _next_url(request),
            "expired": request.GET.get("expired"),
        },
    )


def _pending_user(request) -> User | None:
    pk = request.session.get(PENDING)
    return User.objects.filter(pk=pk, is_active=True).first() if pk else None


def sign_in_code(request):
    user = _pending_user(request)
    if user is None:
        return redirect("access:sign-in")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip()
        ip = client_ip(request)
        if sign_in_throttled(username=user.username, ip_address=ip):
            form.add_error("code", _("Too many failed attempts. Wait 15 minutes and try again."))
        else:
            for device in TOTPDevice.objects.filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return _finish(request, user, device)
            sign_in_attempt_record(username=user.username, ip_address=ip, succeeded=False)
            form.add_error("code", _("That code is not right. Codes change every 30 seconds: try the current one."))
    return render(
        request,
        "access/sign_in_code.html",
        {"form": form, "form_errors": form_errors(form), "next": _next_url(request)},
    )


def sign_in_set_up(request):
    """First sign-in of a real account: enrol an authenticator app, then continue."""
    user = _pending_user(request)
    if user is None:
        return redirect("access:sign-in")
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect("/sign-in/code/")
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            # Not signed in yet, so name the user explicitly (request.user is still anonymous).
            audit_record(
                action="admin",
                actor=user,
                ip_address=client_ip(request),
                object_type="user",
                object_id=user.pk,
                purpose="two-factor set up",
            )
            return _finish(request, user, device)
        form.add_error("code", _("That code is not right. Check the time on your phone and try the current code."))
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "access/sign_in_set_up.html",
        {
            "form": form,
            "form_errors": form_errors(form),
            "qr_svg": buffer.getvalue().decode(),
            "secret": secret,
            "next": _next_url(request),
        },
    )


@require_POST
def sign_out(request):
    if request.user.is_authenticated:
        audit_from_request(request, action="sign_out", object_type="user", object_id=request.user.pk)
    logout(request)
    messages.success(request, _("You have signed out."))
    return redirect("access:sign-in")
