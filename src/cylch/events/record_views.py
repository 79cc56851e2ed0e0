"""Recording on the record: a practitioner logs one concern or event about a person (or their
household) from the person's page. Thin: open the person, build the form, call ``record_event``.

Step 1 (``?code`` absent or not one the user may record) lists what fits; step 2 (``?code=...``)
is the code's form. Saving goes through ``record_event``, which audits the write and sends
``event_recorded`` (rules, the register notification, the lead coordinator check, webhooks).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.core import taxonomy
from cylch.core.forms import apply_errors, form_errors
from cylch.events import record_forms
from cylch.events.models import Source
from cylch.events.services import record_event
from cylch.identity.selectors import age_on, current_household
from cylch.identity.views import open_person
from cylch.rules.register import register_notices


def record(request, public_id):
    access = open_person(request, public_id)
    person = access.person
    if person.public_id != public_id:  # merged into someone else: record at their own address
        query = f"?{urlencode({'code': request.GET['code']})}" if "code" in request.GET else ""
        return redirect(reverse("events:record", args=[person.public_id]) + query)
    if not record_forms.may_record(access):
        raise PermissionDenied
    household = current_household(person)
    codes = record_forms.recordable(organisation=request.user.organisation, person=person, household=household)
    language = record_forms.language_of(get_language())
    chosen = request.GET.get("code")
    event_code = next((c for c in codes if c.code == chosen), None)
    if event_code is None:
        if request.method == "POST":  # only a code the user may record is ever saved
            raise PermissionDenied
        return _choose(request, access, codes, chosen, language)
    return _details(request, access, event_code, household, language)


def _choose(request, access, codes, chosen, language):
    person = access.person
    age = age_on(person.date_of_birth, timezone.localdate())
    answered = chosen is not None or "choose" in request.GET
    form = record_forms.ChooseForm({"code": chosen or ""} if answered else None, codes=codes)
    if form.is_bound:
        form.is_valid()  # only ever invalid here: a valid choice goes on to its form
    return render(
        request,
        "events/record_choose.html",
        {
            "person": person,
            "groups": record_forms.grouped(codes, language),
            "child": person.is_unborn or (age is None or age < 18),
            "report_url": f"{reverse('reports:new')}?{urlencode({'person': person.public_id})}",
            "form": form,
            "form_errors": form_errors(form) if form.errors else [],
        },
    )


def _details(request, access, event_code, household, language):
    person = access.person
    form = record_forms.RecordForm(
        request.POST if request.method == "POST" else None,
        event_code=event_code,
        person=person,
        household=household,
        language=language,
        initial={"occurred_on": timezone.localdate().strftime("%d/%m/%Y")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            recorded = record_event(
                organisation=request.user.organisation,
                recorded_by=request.user,
                source=Source.WEB,
                **form.record_kwargs(),
            )
        except ValidationError as exc:
            if "external_id" in exc.message_dict:  # this showing of the form saved something else
                form.add_error(None, _("This form has already been saved. Check the record before you save again."))
                form.token = None
            else:
                apply_errors(form, exc)
        else:
            label = event_code.label(language)
            if recorded.created:
                messages.success(request, _("Saved on the record: %(what)s.") % {"what": label})
            else:
                messages.success(request, _("This was already saved on the record: %(what)s.") % {"what": label})
            if event_code.subject != "household":  # the social worker is told of entries about the child
                notice = register_notices([person]).get(person.pk)
                if notice is not None and notice.worker_id != request.user.pk:
                    messages.warning(request, notice.sentence(person.display_name, language))
            return redirect("identity:person", public_id=person.public_id)
    token = request.POST.get("token") if form.token is not None else record_forms.new_token()
    domain = taxonomy.domains().get(event_code.domain)
    return render(
        request,
        "events/record_form.html",
        {
            "person": person,
            "household": household if event_code.subject == "household" else None,
            "event_code": event_code,
            "label": event_code.label(language),
            "domain_label": domain.label(language) if domain else "",
            "form": form,
            "token": token,
            "form_errors": form_errors(form) if form.errors else [],
        },
    )
