"""Event details read in the page's language: every detail key and enum value in the taxonomy
has an English and a Welsh label in ``events/detail_labels.yaml``, and nothing else does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from django.urls import reverse
from django.utils import translation

from cylch.core import taxonomy
from cylch.core.templatetags.cylch_tags import detail_items
from tests import factories

# Labels whose Welsh is spelt as the English, each with the reason. Keep this short: a new
# entry needs a reason a Welsh reader would accept.
SAME_IN_BOTH = {
    ("values", "alcohol"): "'alcohol' is the Welsh word too (as in taxonomy.yaml's Welsh labels)",
    ("values", "hybrid"): "'hybrid' is the Welsh word for a hybrid meeting (django.po has Hybrid -> Hybrid)",
}


def _file_codes() -> dict[str, taxonomy.EventCode]:
    """The codes in taxonomy.yaml (not any an app registered in Python)."""
    with taxonomy.TAXONOMY_FILE.open(encoding="utf-8") as fh:
        return taxonomy.parse(yaml.safe_load(fh))[1]


def _walk(schema: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """(property, enum values) for every property of a details schema, arrays' items included."""
    for name, sub in (schema.get("properties") or {}).items():
        yield name, [*_enum(sub)]
        yield from _walk(sub)


def _enum(sub: dict[str, Any]) -> Iterator[Any]:
    yield from sub.get("enum") or []
    if isinstance(sub.get("items"), dict):
        yield from _enum(sub["items"])


def _taxonomy_keys_and_values() -> tuple[set[str], dict[str, set[str]]]:
    keys: set[str] = set()
    values: dict[str, set[str]] = {}
    for code in _file_codes().values():
        for name, enum in _walk(code.details_schema):
            keys.add(name)
            for value in enum:
                values.setdefault(value, set()).add(name)
    return keys, values


KEYS, VALUES = _taxonomy_keys_and_values()
LABELS = taxonomy.detail_labels()


def _entries() -> Iterator[tuple[str, str, dict[str, str]]]:
    for section in ("keys", "values"):
        for name, entry in LABELS[section].items():
            yield section, name, entry
    for prop, overrides in LABELS["by_property"].items():
        for value, entry in overrides.items():
            yield "by_property", f"{prop}.{value}", entry


def test_the_taxonomy_has_hundreds_of_keys_and_values():
    """The walk over the schemas finds what is there (a broken walk would pass every test below)."""
    assert len(KEYS) > 250
    assert len(VALUES) > 500
    assert "seen_alone" in KEYS and "hospital_outpatients" in VALUES
    assert "smelled_of_alcohol" in VALUES  # an enum inside an array's items


def test_every_detail_key_has_both_labels():
    """Every property name in any code's details has an English and a Welsh label."""
    missing = sorted(KEYS - set(LABELS["keys"]))
    assert not missing, f"add to detail_labels.yaml keys: {missing}"


def test_every_enum_value_has_both_labels():
    """Every enum value in any code's details (array items included) has both labels."""
    missing = sorted(set(VALUES) - set(LABELS["values"]))
    assert not missing, f"add to detail_labels.yaml values: {missing}"


def test_every_label_is_filled_in_and_the_welsh_is_welsh():
    """Both labels are non-empty text, and the Welsh is not a copy of the English except for the
    few words listed, with their reasons, in SAME_IN_BOTH."""
    problems = []
    for section, name, entry in _entries():
        en, cy = (entry or {}).get("en"), (entry or {}).get("cy")
        if not (isinstance(en, str) and en.strip() and isinstance(cy, str) and cy.strip()):
            problems.append(f"{section}.{name}: needs both en and cy")
        elif en.strip().casefold() == cy.strip().casefold() and (section, name) not in SAME_IN_BOTH:
            problems.append(f"{section}.{name}: Welsh is the English ({cy!r})")
    assert not problems, "\n".join(problems)


def test_the_file_has_no_stale_labels():
    """No label for a key or value the taxonomy no longer has, and every per-property override
    is for a value that property really takes."""
    assert not sorted(set(LABELS["keys"]) - KEYS), "keys no longer in taxonomy.yaml"
    assert not sorted(set(LABELS["values"]) - set(VALUES)), "values no longer in taxonomy.yaml"
    stale = [
        f"{prop}.{value}"
        for prop, overrides in LABELS["by_property"].items()
        for value in overrides
        if prop not in VALUES.get(value, set())
    ]
    assert not stale, f"by_property overrides for values the property does not take: {stale}"
    assert not sorted(set(SAME_IN_BOTH) - {(s, n) for s, n, _ in _entries()}), (
        "SAME_IN_BOTH lists a label not in the file"
    )


def test_detail_items_are_in_welsh_on_a_welsh_page():
    """A missed appointment's details read in Welsh: keys and enum values labelled, booleans
    Ie/Na through gettext, numbers and free text as recorded."""
    details = {
        "service": "hospital_outpatients",
        "appointment_type": "Fracture clinic",
        "rebooked": False,
        "follow_up": "health_visitor_or_school_nurse_informed",
    }
    with translation.override("cy"):
        items = detail_items(details)
        no = translation.gettext("No")
    assert no != "No"
    assert items == [
        ("Gwasanaeth", "Cleifion allanol yr ysbyty"),
        ("Math o apwyntiad", "Fracture clinic"),
        ("Apwyntiad newydd wedi'i drefnu", no),
        ("Camau dilynol", "Ymwelydd iechyd neu nyrs ysgol wedi cael gwybod"),
    ]


def test_detail_items_in_english_and_lists_and_numbers():
    """In English the labels are plain sentences; an array's values are each labelled, and a
    number stays a number."""
    details = {"seen_alone": True, "trusted_adults": ["teacher", "police"], "sibling_age": 9}
    with translation.override("en"):
        assert detail_items(details) == [
            ("Seen alone", "Yes"),
            ("Trusted adults", "Teacher, Police officer"),
            ("Sibling's age", "9"),
        ]
    with translation.override("cy"):
        assert detail_items(details)[1] == (
            "Oedolion y mae'r plentyn yn ymddiried ynddynt",
            "Athro neu athrawes, Swyddog heddlu",
        )


@pytest.mark.parametrize(
    ("key", "value", "en", "cy"),
    [
        ("plan_progress", "none", "No progress", "Dim cynnydd"),
        ("follow_up", "none", "No follow-up", "Dim camau dilynol"),
        ("forms", "exclusion", "Being left out", "Cael ei gau allan"),
        ("reason", "exclusion", "School exclusion", "Gwahardd o'r ysgol"),
        ("concern_type", "substance_misuse", "Substance misuse", "Camddefnyddio sylweddau"),
        ("report_maker_kind", "substance_misuse", "Substance misuse service", "Gwasanaeth camddefnyddio sylweddau"),
    ],
)
def test_a_value_reads_as_its_property_means_it(key, value, en, cy):
    """The same value means different things under different properties: the override wins."""
    assert taxonomy.detail_value_label(key, value, "en") == en
    assert taxonomy.detail_value_label(key, value, "cy") == cy


def test_unknown_keys_fall_back_and_free_text_stays_as_written():
    """A key not in the file (a code an app registered in Python) reads as plain English words
    in both languages; a string that is no enum value is shown as recorded."""
    assert taxonomy.detail_label("bus_route_number", "cy") == "Bus route number"
    assert taxonomy.detail_value_label("appointment_type", "Clinig_plant 3", "cy") == "Clinig_plant 3"


def test_the_person_page_shows_details_in_welsh(prydderch, client, demo_hub):
    """On the person page in Welsh, a missed appointment's details are Welsh, not the stored codes."""
    factories.event(
        organisation=prydderch.orgs.gp,
        person=prydderch.twm,
        code="health.appointment.was_not_brought",
        details={"service": "hospital_outpatients", "rebooked": True},
    )
    client.force_login(prydderch.staff.gp)
    client.cookies["cylch_language"] = "cy"
    html = client.get(reverse("identity:person", args=[prydderch.twm.public_id])).content.decode()
    assert "Cleifion allanol yr ysbyty" in html
    assert "Apwyntiad newydd wedi&#x27;i drefnu" in html or "Apwyntiad newydd wedi'i drefnu" in html
    assert "hospital outpatients" not in html
