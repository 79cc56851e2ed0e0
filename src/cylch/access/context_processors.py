from urllib.parse import urlsplit

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language

from cylch.access.roles import FRONT_DOOR_ROLES


def cylch(request):
    user = getattr(request, "user", None)
    org = getattr(user, "organisation", None) if user and user.is_authenticated else None
    unread = 0
    if user is not None and user.is_authenticated:
        from django.utils.functional import SimpleLazyObject

        from cylch.notify.inbox import unread_count

        unread = SimpleLazyObject(lambda: unread_count(user))  # one indexed count, only if shown
    return {
        "unread_notices": unread,
        "demo_mode": settings.DEMO_MODE,
        "user_organisation_name": org.name(get_language()) if org else "",
        "front_door_roles": {r.value for r in FRONT_DOOR_ROLES},
        # Every page has it (a view's own overrides this), so the base page's title can ask for
        # it: a failed lookup is logged at DEBUG with the page's whole context, a one-time
        # password included (tests/test_safe_exports.py).
        "form_errors": (),
        "language_next": lambda: _here(request),  # called only where the header is drawn
    }


def _here(request) -> str:
    """Where the language link returns to: this page; but a form's answer posted to an address
    that takes only POST (a refused decision, say) returns to the page the form was on, as the
    browser's Referer names it when it is this site's, else the address would answer 405."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()
