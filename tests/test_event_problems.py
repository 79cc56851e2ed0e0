"""What a sender is told about an event's details: plain words at the detail itself, in the
sender's language, rather than the JSON Schema library's English for programmers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from cylch.events.services import validate_details


def problems(code: str, details: dict, language: str = "en") -> dict[str, list[str]]:
    with translation.override(language), pytest.raises(ValidationError) as caught:
        validate_details(code, details)
    return caught.value.message_dict


def test_a_missing_detail_and_an_unexpected_one_are_named_at_their_own_place():
    found = problems("process.register.registered", {"colour": "blue"})
    assert found == {
        "details.categories": ["This detail is required."],
        "details.colour": ["This code has no detail called “colour”."],
    }


@pytest.mark.parametrize(
    ("code", "details", "where", "said"),
    [
        ("health.appointment.was_not_brought", {"rebooked": "maybe"}, "details.rebooked", "Give yes or no."),
        ("health.appointment.was_not_brought", {"service": "spaceship"}, "details.service", "“spaceship” is not one of: gp, health_visiting,"),
        ("process.register.registered", {"categories": []}, "details.categories", "Give at least 1."),
        ("process.register.registered", {"categories": ["neglect", "neglect"]}, "details.categories", "A value appears more than once in this list."),
        ("process.register.registered", {"categories": ["neglect", "hunger"]}, "details.categories.1", "“hunger” is not one of: physical,"),
        ("education.risk_assessment.completed", {"review_date": "next week"}, "details.review_date", "“next week” is not a date in the form YYYY-MM-DD."),
    ],
)  # fmt: skip
def test_each_kind_of_problem_is_said_plainly(code, details, where, said):
    found = problems(code, details)
    assert any(message.startswith(said) for message in found[where]), found


def test_a_number_out_of_range_says_the_limit():
    code, field = _a_code_with_a_bounded_integer()
    assert problems(code, {field: -1})[f"details.{field}"] == ["Give 0 or more."]
    assert problems(code, {field: "six"})[f"details.{field}"] == ["Give a whole number."]


def test_the_same_problems_in_welsh():
    found = problems("health.appointment.was_not_brought", {"rebooked": "maybe", "service": "spaceship", "x": 1}, "cy")
    assert found["details.rebooked"] == ["Rhowch ie neu na."]
    assert found["details.service"][0].startswith("Nid yw “spaceship” yn un o'r rhain: gp,")
    assert found["details.x"] == ["Nid oes gan y cod hwn fanylyn o'r enw “x”."]
    assert problems("health.nope", {}, "cy") == {"code": ["Nid yw “health.nope” yn god yn y tacsonomi pryderon."]}


def _a_code_with_a_bounded_integer() -> tuple[str, str]:
    from cylch.core import taxonomy

    for code in taxonomy.codes().values():
        for name, spec in (code.details_schema.get("properties") or {}).items():
            if spec.get("type") == "integer" and spec.get("minimum") == 0:
                return code.code, name
    raise AssertionError("the taxonomy has no integer detail with a minimum of 0")
