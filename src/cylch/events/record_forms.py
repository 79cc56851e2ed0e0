"""Recording on the record: what a practitioner may record about a person, and the form for it.

Plain Python, no views. Which codes fit the person (a child's codes for a child, an adult's for
an adult, household codes for the person's current household) and the recorder's organisation
(the code's ``recorded_by`` kinds), grouped for the first step; then a Django form built from
the chosen code's JSON schema, whose cleaned data is what ``record_event`` takes.

Every code in the taxonomy names the organisation kinds that record it, and none says "any
organisation", so there is no second list of "other things you can record": a practitioner is
offered what their kind of organisation records, and the page points to the report form for
anything else. Codes with pages of their own are not offered here: the statutory process
(reports, conferences, the register, lead coordinators, reviews: each has its workflow and
clocks) and what the child's voice form records with how the child was heard.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cylch.access.policy import Relationship
from cylch.access.selectors import PersonAccess
from cylch.core import taxonomy
from cylch.core.forms import DATE_FORMATS, date_field
from cylch.events.services import check_subject

# Domains and codes that have pages of their own (see the module docstring).
OWN_PAGE_DOMAINS = frozenset({"process"})
OWN_PAGE_CODES = frozenset(
    {"voice.lived_experience", "voice.wish.expressed", "voice.wish.response", "voice.feels_unsafe"}
)
NOT_KNOWN = "not-known"  # the "Not known" answer of an optional question: no enum value has a hyphen
RADIOS_UP_TO = 6  # longer lists of values are a select
TOKEN_SALT = "cylch.events.record"
EXTERNAL_ID_PREFIX = "cylch-web:"


def language_of(code: str | None) -> str:
    return "cy" if (code or "en").startswith("cy") else "en"


# --- who may record, and what --------------------------------------------------------------------


def may_record(access: PersonAccess) -> bool:
    """A casework role (``access_person`` lets no other open a record) in an organisation, whose
    organisation works with the person (or who holds break-glass access): as for the child's voice."""
    viewer = access.viewer
    if viewer.user is None or viewer.organisation is None:
        return False
    return access.relationship != Relationship.NONE or access.break_glass is not None


def offered(event_code: taxonomy.EventCode) -> bool:
    return event_code.domain not in OWN_PAGE_DOMAINS and event_code.code not in OWN_PAGE_CODES


def fits(event_code: taxonomy.EventCode, person, household, at: datetime) -> bool:
    """Whether the code may be recorded about this person (or their household) at ``at``."""
    if event_code.subject == "household":
        return household is not None
    try:
        check_subject(event_code, person, at)
    except ValidationError:
        return False
    return True


def recordable(*, organisation, person, household) -> list[taxonomy.EventCode]:
    """The codes this organisation records that fit the person now, in taxonomy order."""
    if organisation is None:
        return []
    now = timezone.now()
    return [
        c
        for c in taxonomy.codes().values()
        if offered(c) and organisation.kind in c.recorded_by and fits(c, person, household, now)
    ]


@dataclass(frozen=True)
class Option:
    code: str
    label: str
    soft: bool
    household: bool
    anchor: str  # the radio's id: the first is the field's own, where the error summary links


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    options: list[Option]

    @property
    def soft(self) -> list[Option]:
        return [o for o in self.options if o.soft]

    @property
    def other(self) -> list[Option]:
        return [o for o in self.options if not o.soft]


def grouped(codes: list[taxonomy.EventCode], language: str) -> list[Group]:
    """The codes by domain (in the taxonomy's order), soft concerns first in each."""
    by_domain: dict[str, list[taxonomy.EventCode]] = {}
    for c in codes:
        by_domain.setdefault(c.domain, []).append(c)
    groups: list[Group] = []
    for key, domain in taxonomy.domains().items():
        members = sorted(by_domain.get(key, []), key=lambda c: not c.soft)  # stable: file order within
        if members:
            options = [
                Option(
                    c.code,
                    c.label(language),
                    c.soft,
                    c.subject == "household",
                    "id_code" if not groups and i == 0 else f"id_code-{key}-{i}",
                )
                for i, c in enumerate(members)
            ]
            groups.append(Group(key, domain.label(language), options))
    return groups


class ChooseForm(forms.Form):
    """Step 1 (a GET form): which kind of entry."""

    code = forms.ChoiceField(error_messages={"required": gettext_lazy("Choose what you want to record")})

    def __init__(self, data=None, *, codes: list[taxonomy.EventCode]):
        super().__init__(data)
        self.fields["code"].choices = [(c.code, c.code) for c in codes]
        self.fields["code"].error_messages["invalid_choice"] = gettext_lazy(
            "Choose one of the things listed: your organisation does not record that here"
        )


# --- step 2: the code's form -----------------------------------------------------------------------


def _escaped(label: str) -> str:
    """A label inside a message Django formats with its own parameters ("Attendance (%)")."""
    return label.replace("%", "%%")


def _bounds(schema: dict[str, Any], label: str):
    def check(value):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and value < low:
            raise ValidationError(_("%(label)s: enter %(limit)s or more") % {"label": label, "limit": low})
        if high is not None and value > high:
            raise ValidationError(_("%(label)s: enter %(limit)s or less") % {"label": label, "limit": high})

    return check


def detail_field(key: str, schema: dict[str, Any], *, required: bool, language: str) -> tuple[forms.Field, str]:
    """One form field for one property of a code's details schema, and how to show it: radios,
    yes-no (radios in a row), select, checkboxes, text, number or date. Labels come from
    ``detail_labels.yaml``, in ``language``.
    """
    label = taxonomy.detail_label(key, language)
    shown = _("%(label)s (required)") % {"label": label} if required else label
    needed = {"required": _("%(label)s: give this detail") % {"label": label}}
    type_ = schema.get("type")
    items = schema.get("items") or {}
    field: forms.Field
    if type_ == "string" and "enum" in schema:
        choices = [(v, taxonomy.detail_value_label(key, v, language)) for v in schema["enum"]]
        bad = {"invalid_choice": _("%(label)s: choose one of the options listed") % {"label": _escaped(label)}}
        if len(choices) <= RADIOS_UP_TO:
            if not required:
                choices.append((NOT_KNOWN, _("Not known")))
            field = forms.ChoiceField(label=shown, choices=choices, required=required, error_messages=needed | bad)
            kind = "radios"
        else:
            first = ("", _("Choose one") if required else _("Not known"))
            field = forms.ChoiceField(
                label=shown, choices=[first, *choices], required=required, error_messages=needed | bad
            )
            kind = "select"
    elif type_ == "boolean":
        choices = [("yes", _("Yes")), ("no", _("No"))] + ([] if required else [(NOT_KNOWN, _("Not known"))])
        bad = {"invalid_choice": _("%(label)s: choose yes or no") % {"label": _escaped(label)}}
        field = forms.ChoiceField(label=shown, choices=choices, required=required, error_messages=needed | bad)
        kind = "yes-no"
    elif type_ == "array" and "enum" in items:
        choices = [(v, taxonomy.detail_value_label(key, v, language)) for v in items["enum"]]
        bad = {"invalid_choice": _("%(label)s: choose from the options listed") % {"label": _escaped(label)}}
        if required or schema.get("minItems"):
            needed = {"required": _("%(label)s: choose at least one") % {"label": label}}
        field = forms.MultipleChoiceField(
            label=shown,
            choices=choices,
            required=required or bool(schema.get("minItems")),
            error_messages=needed | bad,
        )
        kind = "checkboxes"
    elif type_ in ("integer", "number"):
        whole = type_ == "integer"
        invalid = _("%(label)s: enter a whole number") if whole else _("%(label)s: enter a number")
        field = (forms.IntegerField if whole else forms.FloatField)(
            label=shown,
            required=required,
            error_messages=needed | {"invalid": invalid % {"label": label}},
            validators=[_bounds(schema, label)],
        )
        kind = "number"
    elif type_ == "string" and schema.get("format") == "date":
        field = forms.DateField(
            label=shown,
            required=required,
            input_formats=DATE_FORMATS,
            error_messages=needed
            | {"invalid": _("%(label)s: enter the date as day/month/year, for example 27/03/2026") % {"label": label}},
        )
        kind = "date"
    else:  # free text (and anything the schema has that no widget here knows: the schema checks it)
        field = forms.CharField(
            label=shown,
            required=required,
            max_length=500,
            error_messages=needed
            | {"max_length": _("%(label)s: use at most 500 characters") % {"label": _escaped(label)}},
        )
        kind = "text"
    return field, kind


def _detail_value(kind: str, value):
    """The cleaned value as the details JSON holds it, or None for "not given"."""
    if value in (None, "", [], NOT_KNOWN):
        return None
    if kind == "yes-no":
        return value == "yes"
    if kind == "date":
        return value.isoformat()
    if kind == "text":
        return value.strip() or None
    return value


@dataclass(frozen=True)
class DetailField:
    key: str
    field: Any  # the bound field
    kind: str


def new_token() -> str:
    """A signed token for one showing of the form: the event's idempotency key, and when the
    form was shown (the moment of an entry about today with no time given)."""
    return signing.dumps({"n": uuid.uuid4().hex, "t": int(timezone.now().timestamp())}, salt=TOKEN_SALT)


@dataclass(frozen=True)
class Token:
    external_id: str
    shown_at: datetime


def read_token(value: str) -> Token | None:
    try:
        data = signing.loads(value or "", salt=TOKEN_SALT)
        return Token(
            EXTERNAL_ID_PREFIX + uuid.UUID(hex=data["n"]).hex,
            datetime.fromtimestamp(int(data["t"]), tz=timezone.get_current_timezone()),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


class RecordForm(forms.Form):
    """Step 2: when, what happened in the practitioner's words, the code's details, sensitivity."""

    occurred_on = date_field(gettext_lazy("When did it happen?"))
    occurred_time = forms.TimeField(
        label=gettext_lazy("Time (optional)"),
        required=False,
        input_formats=["%H:%M", "%H.%M"],
        error_messages={"invalid": gettext_lazy("Enter the time as hours and minutes, for example 14:30")},
    )
    summary = forms.CharField(
        label=gettext_lazy("What happened, in your own words"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={
            "required": gettext_lazy("Write what happened, in your own words"),
            "max_length": gettext_lazy("Use at most 5,000 characters"),
        },
    )
    sensitivity = forms.MultipleChoiceField(
        label=gettext_lazy("Sensitivity"),
        required=False,
        choices=[("special", gettext_lazy("Treat this entry as highly sensitive"))],
    )

    def __init__(self, data=None, *, event_code: taxonomy.EventCode, person, household, language: str, **kwargs):
        super().__init__(data, **kwargs)
        self.event_code, self.person, self.household = event_code, person, household
        schema = event_code.details_schema
        required = set(schema.get("required") or ())
        self.language = language
        self.detail_kinds: dict[str, tuple[str, str]] = {}  # field name -> (detail key, kind)
        for key, prop in (schema.get("properties") or {}).items():
            name = f"details_{key}"
            self.fields[name], kind = detail_field(key, prop, required=key in required, language=language)
            self.detail_kinds[name] = (key, kind)
        if event_code.sensitivity == "special":  # already the highest class
            del self.fields["sensitivity"]
        self.token = read_token(self.data.get("token", "")) if self.is_bound else None

    @property
    def detail_fields(self) -> list[DetailField]:
        return [DetailField(key, self[name], kind) for name, (key, kind) in self.detail_kinds.items()]

    def clean(self):
        data = super().clean()
        if self.token is None:
            self.add_error(None, _("This form could not be read. Check your answers and save again."))
        day, at_time = data.get("occurred_on"), data.get("occurred_time")
        if day is None or "occurred_time" in self.errors:
            return data
        now = timezone.localtime()
        if day > now.date():
            self.add_error("occurred_on", _("The date cannot be in the future"))
            return data
        if day.year < 1900:
            self.add_error("occurred_on", _("Enter a date from 1900 onwards"))
            return data
        if at_time is not None:
            at = timezone.make_aware(datetime.combine(day, at_time))
            if at > now:
                self.add_error("occurred_time", _("The time cannot be in the future"))
                return data
        elif day == now.date():
            shown = self.token.shown_at if self.token else now
            at = shown if timezone.localtime(shown).date() == day else now
        else:
            at = timezone.make_aware(datetime.combine(day, time(12)))
        data["occurred_at"] = at
        if self.event_code.subject != "household":
            try:
                check_subject(self.event_code, self.person, at)
            except ValidationError:
                if self.event_code.subject == "child":
                    message = _("This is recorded about a child, and on that date this person was 18 or over")
                else:
                    message = _("This is recorded about an adult, and on that date this person was under 16")
                self.add_error("occurred_on", message)
                return data
        if self.errors:  # a detail that did not clean would read as missing to the schema
            return data
        details = self.details()
        for err in self.event_code.validator.iter_errors(details):
            key = str(err.path[0]) if err.path else ""
            name = f"details_{key}"
            label = taxonomy.detail_label(key, self.language) if key else _("Details")
            self.add_error(
                name if name in self.fields else None, _("%(label)s: this is not accepted") % {"label": label}
            )
        return data

    def details(self) -> dict[str, Any]:
        out = {}
        for name, (key, kind) in self.detail_kinds.items():
            value = _detail_value(kind, self.cleaned_data.get(name))
            if value is not None:
                out[key] = value
        return out

    def record_kwargs(self) -> dict[str, Any]:
        """What ``record_event`` takes from this form (the view adds who records it)."""
        d = self.cleaned_data
        about = {"household": self.household} if self.event_code.subject == "household" else {"person": self.person}
        return {
            **about,
            "code": self.event_code.code,
            "occurred_at": d["occurred_at"],
            "summary": d["summary"].strip(),
            "details": self.details(),
            "sensitivity": "special" if "special" in (d.get("sensitivity") or ()) else None,
            "external_id": self.token.external_id,
        }
