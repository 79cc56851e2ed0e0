"""Name normalisation and Welsh/English variants for search and matching.

Agencies spell the same child differently: "Dafydd" at school and "David" at the GP,
"Siân" and "Sian", "ap Rhys" and "Rhys". Search compares normalised forms and knows the
common Welsh/English pairs.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Common Welsh given names and their English counterparts (both directions are used).
WELSH_ENGLISH_VARIANTS: dict[str, tuple[str, ...]] = {
    "dafydd": ("david", "dai", "dave", "dewi"),
    "dewi": ("david", "dafydd"),
    "sion": ("john", "shaun", "sean"),
    "ioan": ("john", "ian"),
    "ieuan": ("evan", "ian", "john"),
    "sian": ("jane", "jean"),
    "sioned": ("janet",),
    "rhys": ("reece", "rees", "reese"),
    "gwilym": ("william",),
    "wiliam": ("william",),
    "huw": ("hugh",),
    "iolo": ("edward",),
    "owain": ("owen",),
    "gruffudd": ("griffith", "gruffydd"),
    "rhodri": ("roderick",),
    "catrin": ("catherine", "katherine", "kate", "cath"),
    "mair": ("mary", "maria"),
    "mari": ("mary",),
    "elen": ("helen", "ellen"),
    "elin": ("ellen", "helen"),
    "gwen": ("gwendolen",),
    "siwan": ("joan",),
    "efa": ("eva", "eve"),
    "nia": ("nina",),
    "angharad": ("anna",),
    "tomos": ("thomas", "tom"),
    "twm": ("thomas", "tom"),
    "mathew": ("matthew",),
    "ifan": ("evan",),
    "sieffre": ("geoffrey", "jeffrey"),
    "sioni": ("johnny",),
    "pedr": ("peter",),
    "harri": ("harry", "henry"),
    "llywelyn": ("llewellyn", "lewis"),
    "steffan": ("stephen", "steven"),
    "aled": ("alan",),
}


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case, accents removed (Siân -> sian, Gŵyn -> gwyn), punctuation to spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", " ", plain).strip()


@lru_cache(maxsize=4096)
def token_variants(token: str) -> tuple[str, ...]:
    """One folded name and every form it is known by, both directions (sorted)."""
    out = {token}
    out.update(WELSH_ENGLISH_VARIANTS.get(token, ()))
    out.update(k for k, vs in WELSH_ENGLISH_VARIANTS.items() if token in vs)
    return tuple(sorted(out))


@lru_cache(maxsize=4096)
def headword(token: str) -> str:
    """The Welsh headword a folded name belongs to (david, dai, dewi -> dafydd; rees -> rhys)."""
    heads = {k for k, vs in WELSH_ENGLISH_VARIANTS.items() if token in vs}
    if token in WELSH_ENGLISH_VARIANTS:
        heads.add(token)
    return min(heads) if heads else token


def variants(given: str) -> set[str]:
    base = fold(given)
    out = {base} if base else set()
    for token in base.split():
        out.update(token_variants(token))
    return out


def search_key(*names: str) -> str:
    """The text stored in ``Person.search_name``: every folded name the person is known by."""
    seen: list[str] = []
    for name in names:
        for token in fold(name).split():
            if token not in seen:
                seen.append(token)
    return " ".join(seen)[:220]
