"""Lists in the reader's alphabetical order: Welsh has letters of two characters, each after its
first (ch after c, ll after l); the forms' choices of council area and organisation are named
and ordered in the page's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from cylch.core.collation import sort_key, sorted_by, welsh_letters
from cylch.protection.forms import ActionForm, AddInviteeForm
from cylch.reports.forms import ReportForm
from tests import factories


def welsh(names):
    return sorted_by(names, str, "cy")


def test_welsh_letters_of_two_characters_are_one_letter():
    assert welsh_letters("Llanelli") == ["ll", "a", "n", "e", "ll", "i"]
    assert welsh_letters("Rhydychen") == ["rh", "y", "d", "y", "ch", "e", "n"]
    assert welsh_letters("Ffordd y Ddôl") == ["ff", "o", "r", "dd", " ", "y", " ", "dd", "o", "l"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Lyn", "Llanelli"),  # ll comes after every l
        ("Rutland", "Rhondda"),  # rh after r
        ("Cymru", "Chwilog"),  # ch after c
        ("Dyffryn", "Ddôl"),  # dd after d
        ("Gwynedd", "Ngwyn"),  # ng after g: before h, after every other g
        ("Ngwyn", "Hwlffordd"),
        ("Pys", "Phwllheli"),  # ph after p
        ("Tywyn", "Thornhill"),  # th after t
        ("Sir Fynwy", "Sir y Fflint"),  # a space before any letter
        ("Ynys Môn", "Ynys Mon Wen"),  # the accent only breaks the tie, then the next word decides
    ],
)
def test_welsh_order(before, after):
    assert welsh([after, before]) == [before, after]
    assert sort_key(before, "cy") < sort_key(after, "cy")


def test_english_order_reads_each_character_alone():
    assert sorted_by(["Rhondda", "Rutland", "Llanelli", "Lyn"], str, "en") == ["Llanelli", "Lyn", "Rhondda", "Rutland"]


def test_the_twenty_two_councils_in_welsh():
    names = ["Abertawe", "Blaenau Gwent", "Bro Morgannwg", "Caerdydd", "Caerffili", "Casnewydd",
             "Castell-nedd Port Talbot", "Ceredigion", "Conwy", "Gwynedd", "Merthyr Tudful", "Pen-y-bont ar Ogwr",
             "Powys", "Rhondda Cynon Taf", "Sir Benfro", "Sir Ddinbych", "Sir Fynwy", "Sir Gaerfyrddin",
             "Sir y Fflint", "Torfaen", "Wrecsam", "Ynys Môn"]  # fmt: skip
    assert welsh(reversed(names)) == names


@pytest.mark.django_db
def test_the_report_forms_council_areas_are_named_and_ordered_in_the_pages_language():
    where = factories.places()
    held = {where.carmarthenshire.pk, where.ceredigion.pk}

    def areas():
        field = ReportForm().fields["local_authority"]
        return [label for value, label in field.choices if value and int(str(value)) in held]

    with translation.override("cy"):
        assert areas() == ["Ceredigion", "Sir Gaerfyrddin"]
    with translation.override("en"):
        assert areas() == ["Carmarthenshire", "Ceredigion"]
    with translation.override("cy"):
        field = ReportForm().fields["local_authority"]
        labels = [label for value, label in field.choices if value]
        assert labels == welsh(labels) and labels[0] != "Not known"


@pytest.mark.django_db
def test_organisations_to_invite_are_named_in_welsh_for_a_welsh_page():
    fam = factories.prydderch_household()
    orgs = [o for o in (fam.orgs.gp, fam.orgs.school, fam.orgs.childrens_services) if o.name_cy != o.name_en]
    assert orgs
    for form in (AddInviteeForm(), ActionForm()):
        field = form.fields["organisation" if isinstance(form, AddInviteeForm) else "owner"]
        with translation.override("cy"):
            labels = [label for value, label in field.choices if value]
            assert all(o.name_cy in labels for o in orgs) and not any(o.name_en in labels for o in orgs)
            assert labels == welsh(labels)
        with translation.override("en"):
            labels = [label for value, label in field.choices if value]
            assert all(o.name_en in labels for o in orgs)
            assert labels == sorted_by(labels, str, "en")


@pytest.mark.django_db
def test_insights_areas_are_in_the_pages_alphabetical_order():
    from cylch.insight.areas import all_areas

    factories.places()
    with translation.override("cy"):
        assert [a.name for a in all_areas() if a.kind == "la"] == ["Ceredigion", "Sir Gaerfyrddin"]
    with translation.override("en"):
        assert [a.name for a in all_areas() if a.kind == "la"] == ["Carmarthenshire", "Ceredigion"]
        assert all_areas()[0].kind == "wales" and all_areas()[1].kind == "board"
