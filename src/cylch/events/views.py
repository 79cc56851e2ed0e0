"""Import pages: upload a CSV for your organisation, see past imports, read the column spec."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cylch.core import taxonomy
from cylch.core.forms import form_errors
from cylch.events.csv_intake import columns_for, import_csv, template
from cylch.events.models import ImportRun
from cylch.identity.models import Person
from cylch.rules.register import register_notices

MAX_UPLOAD = 50 * 1024 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), error_messages={"required": _("Choose a CSV file to import")})

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 50 MB: split it, or use `cylch import csv`."))
        return f


def _organisation(request):
    if request.user.organisation is None:
        raise PermissionDenied(_("Only members of an organisation can import its records."))
    return request.user.organisation


def imports(request):
    org = _organisation(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        run = import_csv(organisation=org, data=upload.read(), filename=upload.name, actor=request.user)
        return redirect("events:import", public_id=run.public_id)
    runs = ImportRun.objects.filter(organisation=org).order_by("-started_at")[:50]
    return render(
        request,
        "events/imports.html",
        {"form": form, "form_errors": form_errors(form) if request.method == "POST" else [], "runs": runs},
    )


def import_detail(request, public_id):
    run = get_object_or_404(ImportRun, public_id=public_id, organisation=_organisation(request))
    # The register's purpose: whoever recorded about a child on it is told whom to contact (as
    # now, not as when the file was stored).
    people = list(Person.objects.filter(public_id__in=run.register_people).order_by("family_name", "given_name"))
    notices = register_notices(people)
    language = "cy" if (get_language() or "en").startswith("cy") else "en"
    register = [
        notices[p.pk].sentence(p.display_name, language)
        for p in people
        if p.pk in notices and notices[p.pk].worker_id != request.user.pk
    ]
    return render(request, "events/import.html", {"run": run, "register": register})


def spec(request):
    language = "cy" if (get_language() or "en").startswith("cy") else "en"
    codes = sorted(taxonomy.codes().values(), key=lambda c: c.code)
    chosen = taxonomy.get(request.GET.get("code", "")) or codes[0]
    return render(request, "events/spec.html", {
        "codes": [(c.code, f"{c.code}: {c.label(language)}") for c in codes if c.domain != "process"],
        "chosen": chosen, "chosen_label": chosen.label(language), "columns": columns_for(chosen.code),
    })  # fmt: skip


def template_csv(request):
    code = taxonomy.get(request.GET.get("code", ""))
    if code is None:
        return HttpResponse("Unknown code", status=404, content_type="text/plain")
    response = HttpResponse(template(code.code), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cylch-{code.code}.csv"'
    return response
