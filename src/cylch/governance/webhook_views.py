"""Webhook pages for an organisation's system administrator or safeguarding leads: the
subscriptions, a new one (its secret shown once), one with its delivery log, switching one off
and sending a test. Another organisation's subscription answers 404, as one that does not exist."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.core.forms import apply_errors, form_errors
from cylch.governance import webhooks
from cylch.governance.webhook_forms import SubscriptionForm


def subscriptions(request):
    subs = webhooks.subscriptions_of(request.user)
    return render(request, "governance/webhooks.html", {"subscriptions": subs})


def subscription_new(request):
    webhooks.check_manage(request.user)
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            made = webhooks.subscription_create(user=request.user, name=d["name"], url=d["url"], kinds=d["kinds"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            # The secret is in this response only: no redirect, nothing in the session.
            response = render(request, "governance/webhook_secret.html", {"subscription": made.subscription,
                                                                           "secret": made.secret})  # fmt: skip
            patch_cache_control(response, no_store=True, private=True)
            return response
    return render(request, "governance/webhook_new.html", {"form": form, "form_errors": form_errors(form)})


def _subscription(request, public_id):
    sub = webhooks.subscription_for(request.user, public_id)
    if sub is None:
        raise Http404(_("No webhook subscription with that reference for your organisation."))
    return sub


def subscription(request, public_id):
    sub = _subscription(request, public_id)
    log = webhooks.delivery_log(sub)
    audit_from_request(request, action="read", object_type="webhook_subscription", object_id=sub.public_id,
                       purpose="webhook delivery log viewed", detail={"deliveries": len(log)})  # fmt: skip
    rows = [(d, webhooks.type_label(d.kind)) for d in log]
    return render(request, "governance/webhook.html", {"subscription": sub, "rows": rows,
                                                       "max_attempts": webhooks.MAX_ATTEMPTS})  # fmt: skip


@require_POST
def deactivate(request, public_id):
    sub = _subscription(request, public_id)
    webhooks.subscription_deactivate(subscription=sub, user=request.user)
    messages.success(request, _("Switched off. Cylch will send nothing more to this address."))
    return redirect("governance:webhook", public_id=sub.public_id)


@require_POST
def test(request, public_id):
    sub = _subscription(request, public_id)
    try:
        delivery = webhooks.webhook_ping(subscription=sub, user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("governance:webhook", public_id=sub.public_id)
    delivery = webhooks.deliver_now(delivery)  # after the ping's transaction, never inside it
    if delivery.state == "delivered":
        messages.success(
            request, _("Test delivered: the receiver answered %(status)s.") % {"status": delivery.last_status_code}
        )
    else:
        messages.error(request, _("The test was not delivered (%(error)s). Cylch will try it again later.")
                       % {"error": delivery.last_error})  # fmt: skip
    return redirect("governance:webhook", public_id=sub.public_id)
