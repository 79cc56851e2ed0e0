"""Words Django translates for Cylch whose Welsh its own catalogue spells wrongly.

Named here so that ``makemessages`` keeps them in Cylch's catalogue, which is read before
Django's (``LOCALE_PATHS`` come first): Django 5.2 writes July "Gorffenaf"; it is "Gorffennaf".
"""

from django.utils.translation import gettext_lazy, pgettext_lazy

CORRECTED = (gettext_lazy("July"), pgettext_lazy("alt. month", "July"))
