from django.conf import settings
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
    }
