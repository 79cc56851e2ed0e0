"""Words for the review page: the model's fields and agreement levels in English and Welsh.

The model stores its level labels in English (they are part of the versioned JSON); the page
shows them through this table so a Welsh-speaking reviewer reads Welsh.
"""

from django.utils.translation import gettext_lazy as _

FIELD_LABELS = {
    "given_name": _("Given name"),
    "surname": _("Surname"),
    "dob": _("Date of birth"),
    "sex": _("Sex"),
    "address": _("Address and postcode"),
    "town": _("Town"),
    "nhs_number": _("NHS number"),
    "pupil_number": _("Unique pupil number"),
    "other_id": _("Other identifier"),
}

LEVEL_LABELS = {
    "All other comparisons": _("Different"),
    "Day and month swapped": _("Day and month swapped"),
    "Different given name, same date of birth and surname (twins?)": _(
        "Different given name, same date of birth and surname (twins?)"
    ),
    "Different given name, same date of birth, surname and identifier": _(
        "Different given name, same date of birth, surname and identifying number"
    ),
    "Elsewhere (moved, or another household)": _("Elsewhere (moved, or another household)"),
    "Given name is the other's surname (swapped)": _("Given name is the other's surname (swapped)"),
    "Nearly the same (Jaro-Winkler ≥ 0.92)": _("Nearly the same spelling"),
    "Not known on one side": _("Not known on one side"),
    "One character different": _("One character different"),
    "One digit different": _("One digit different"),
    "Same": _("Same"),
    "Same address": _("Same address"),
    "Same date of birth": _("Same date of birth"),
    "Same given name": _("Same given name"),
    "Same postcode": _("Same postcode"),
    "Same postcode district": _("Same postcode district"),
    "Same postcode sector (moved nearby)": _("Same postcode sector (moved nearby)"),
    "Same sex": _("Same sex"),
    "Same street address, postcode differs or missing": _("Same street address, postcode differs or missing"),
    "Same surname": _("Same surname"),
    "Same town": _("Same town"),
    "Same year of birth": _("Same year of birth only"),
    "Similar (Jaro-Winkler ≥ 0.8)": _("Similar spelling"),
    "Similar town": _("Similar town"),
    "Surname is the other's given name (swapped)": _("Surname is the other's given name (swapped)"),
    "Welsh/English form misspelt (Rese/Rhys)": _("Welsh or English form, misspelt (Rese, Rhys)"),
    "Welsh/English form or short name (Dafydd/David/Dai)": _(
        "Welsh or English form, or a short name (Dafydd, David, Dai)"
    ),
}


def level_label(text: str):
    return LEVEL_LABELS.get(text, text)
