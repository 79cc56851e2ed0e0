"""Django's own Welsh, where Cylch corrects it (``core/django_welsh.py``)."""

from datetime import date

from django.utils import translation
from django.utils.formats import date_format


def test_july_is_spelt_gorffennaf_in_every_form_of_date():
    with translation.override("cy"):
        assert date_format(date(2026, 7, 20), "j F Y") == "20 Gorffennaf 2026"
        assert date_format(date(2026, 7, 20), "E") == "Gorffennaf"
