"""NHS numbers and unique pupil numbers are checked at the door, so a mistyped digit cannot
link a child's records to someone else; the error says what is wrong."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cylch.access.models import AuditEntry
from cylch.identity.models import AgencyRecord, Person, PersonLink
from cylch.identity.services import agency_record_upsert
from cylch.identity.validators import validate_nhs_number, validate_upn

# --- NHS numbers: ten digits, the last a modulus-11 check digit (weights 10..2) ------------


def weighted_nhs_sum(first_nine: str) -> int:
    return sum(int(d) * w for d, w in zip(first_nine, [10, 9, 8, 7, 6, 5, 4, 3, 2], strict=True))


@pytest.mark.parametrize("number", ["9434765919", "9434765870", "4010232137"])
def test_known_valid_nhs_numbers_are_accepted(number):
    """Published example NHS numbers pass unchanged."""
    assert validate_nhs_number(number) == number


@pytest.mark.parametrize("typed", ["943 476 5919", "943-476-5919", " 9434765919 "])
def test_spaces_and_hyphens_are_removed(typed):
    """The number as people write it (3-3-4, with spaces or hyphens) is accepted and normalised."""
    assert validate_nhs_number(typed) == "9434765919"


def test_a_check_digit_of_eleven_is_written_as_zero():
    """When 11 minus the remainder is 11, the check digit is 0."""
    prefix = next(f"{n:09d}" for n in range(100000000, 100001000) if weighted_nhs_sum(f"{n:09d}") % 11 == 0)
    assert validate_nhs_number(prefix + "0") == prefix + "0"


def test_a_wrong_check_digit_is_refused_naming_the_number():
    """9434765918 is one off 9434765919: refused, and the message names the number and the check digit."""
    with pytest.raises(ValidationError) as exc:
        validate_nhs_number("9434765918")
    assert exc.value.code == "nhs_check_digit"
    assert "9434765918" in exc.value.messages[0] and "check digit" in exc.value.messages[0]


@pytest.mark.parametrize(("typed", "length"), [("943476591", 9), ("94347659190", 11), ("", 0), ("94347659I9", 10)])
def test_the_wrong_length_or_a_letter_is_refused_saying_so(typed, length):
    """Not ten digits: the message says an NHS number has 10 digits and how many characters this had."""
    with pytest.raises(ValidationError) as exc:
        validate_nhs_number(typed)
    assert exc.value.code == "nhs_format"
    assert "10 digits" in exc.value.messages[0] and f"has {length} characters" in exc.value.messages[0]


def test_no_number_is_valid_when_the_check_digit_would_be_ten():
    """Where 11 minus the remainder is 10 no valid NHS number exists: all ten endings are refused."""
    prefix = next(f"{n:09d}" for n in range(943476500, 943477000) if weighted_nhs_sum(f"{n:09d}") % 11 == 1)
    for last in "0123456789":
        with pytest.raises(ValidationError) as exc:
            validate_nhs_number(prefix + last)
        assert exc.value.code == "nhs_check_digit"


@pytest.mark.parametrize("valid", ["9434765919", "9434765870"])
def test_every_single_mistyped_digit_is_caught(valid):
    """Changing any one digit of a valid NHS number to any other digit makes it invalid."""
    for position in range(10):
        for digit in "0123456789":
            if digit == valid[position]:
                continue
            typo = valid[:position] + digit + valid[position + 1 :]
            with pytest.raises(ValidationError):
                validate_nhs_number(typo)


# --- Unique pupil numbers: check letter + 12 characters ----------------------------------
#
# From the DfE / Welsh Government UPN specification: multiply characters 2-13 by weights
# 2-13, add them up, divide by 23; the remainder picks the check letter from
# ABCDEFGHJKLMNPQRTUVWXYZ (no I, O or S). A temporary UPN ends in a letter instead of a
# digit; that letter counts as its position in the same list.

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def spec_check_letter(body: str) -> str:
    total = 0
    for weight, ch in zip(range(2, 14), body, strict=True):
        total += weight * (int(ch) if ch.isdigit() else UPN_LETTERS.index(ch))
    return UPN_LETTERS[total % 23]


def test_the_worked_example_upn_is_accepted():
    """663 (Ceredigion) 2041 (school) 23 (year) 017 (serial): 6x2+6x3+3x4+2x5+0x6+4x7+1x8+2x9+3x10+0x11+1x12+7x13
    = 239; 239 mod 23 = 9, the tenth letter, K."""
    assert spec_check_letter("663204123017") == "K"
    assert validate_upn("K663204123017") == "K663204123017"


@pytest.mark.parametrize(("body", "letter"), [("66320412301A", "L"), ("66320412301Z", "X")])
def test_a_temporary_upn_ending_in_a_letter_is_accepted(body, letter):
    """Temporary UPNs end in a letter, which counts by its place in the check-letter list
    (A=0 gives 148 mod 23 = 10, L; Z=22 gives 434 mod 23 = 20, X)."""
    assert spec_check_letter(body) == letter
    assert validate_upn(letter + body) == letter + body


def test_upns_are_normalised():
    """Spaces and lower case, as typed from a letter, are tidied away."""
    assert validate_upn(" k663 2041 23017 ") == "K663204123017"


def test_every_single_mistyped_digit_in_a_upn_is_caught():
    """Changing any one of the twelve digits to any other digit fails the check letter, and the
    message says so and names what was typed."""
    valid = "K663204123017"
    for position in range(1, 13):
        for digit in "0123456789":
            if digit == valid[position]:
                continue
            typo = valid[:position] + digit + valid[position + 1 :]
            with pytest.raises(ValidationError) as exc:
                validate_upn(typo)
            assert exc.value.code == "upn_check_letter", typo
            assert typo in exc.value.messages[0] and "check letter does not match" in exc.value.messages[0]


@pytest.mark.parametrize(
    "typed",
    [
        "I663204123017",
        "O663204123017",
        "K66320412301",
        "K6632041230170",
        "K66320412301S",
        "K6632041A3017",
        "663204123017K",
    ],
)
def test_a_malformed_upn_is_refused_saying_what_a_upn_looks_like(typed):
    """Wrong length, a letter the scheme never uses (I, O, S), or a letter in the middle: the
    message describes the form of a UPN."""
    with pytest.raises(ValidationError) as exc:
        validate_upn(typed)
    assert exc.value.code == "upn_format"
    assert "check letter followed by 12 characters" in exc.value.messages[0]


# --- at the door: agency records ------------------------------------------------------


def counts() -> tuple[int, int, int, int]:
    return (
        AgencyRecord.objects.count(),
        Person.objects.count(),
        PersonLink.objects.count(),
        AuditEntry.objects.count(),
    )


def test_an_agency_record_with_a_bad_nhs_number_is_refused_and_nothing_is_written(prydderch):
    """The GP sends Twm's number with the last digit mistyped: a ValidationError keyed
    ``nhs_number``, and no record, person, link or audit entry."""
    before = counts()
    with pytest.raises(ValidationError) as exc:
        agency_record_upsert(
            organisation=prydderch.orgs.gp,
            local_id="GP-2001",
            data={"given_name": "Twm", "family_name": "Prydderch", "nhs_number": "9434765871"},
        )
    assert set(exc.value.message_dict) == {"nhs_number"}
    assert "9434765871" in exc.value.message_dict["nhs_number"][0]
    assert counts() == before


def test_every_bad_field_is_named_at_once(prydderch):
    """A record with a bad NHS number, a bad UPN, an impossible date of birth and an unknown
    field is refused with all four named, so the sender can fix them in one go."""
    before = counts()
    with pytest.raises(ValidationError) as exc:
        agency_record_upsert(
            organisation=prydderch.orgs.school,
            local_id="PUPIL-9",
            data={"nhs_number": "123", "upn": "K663204123018", "date_of_birth": "2019-02-30", "shoe_size": 3},
        )
    errors = exc.value.message_dict
    assert set(errors) == {"nhs_number", "upn", "date_of_birth", "shoe_size"}
    assert "YYYY-MM-DD" in errors["date_of_birth"][0]
    assert counts() == before


def test_a_resent_record_with_a_bad_number_leaves_the_stored_record_untouched(prydderch):
    """An update that fails validation does not half-apply: the GP's record of Twm keeps its good number."""
    with pytest.raises(ValidationError):
        agency_record_upsert(
            organisation=prydderch.orgs.gp, local_id="GP-1004", data={"given_name": "Tomos", "nhs_number": "9434765871"}
        )
    record = AgencyRecord.objects.get(organisation=prydderch.orgs.gp, local_id="GP-1004")
    assert record.nhs_number == "9434765870" and record.given_name == "Twm"
