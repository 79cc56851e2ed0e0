"""Alphabetical order for lists people read in Welsh or English.

Welsh has its own alphabet: ch, dd, ff, ng, ll, ph, rh and th are letters of their own, each
after its first letter (ch after c, ng after g), so "Llanelli" comes after "Lyn" and "Rhondda"
after "Rutland". A list sorted by the English names and shown with the Welsh ones (a council
area, the organisations to invite to a conference) reads as no order at all. Letters outside
the Welsh alphabet (k, q, v, x, z: names, loanwords) keep their English places; accents and
capitals count only to break a tie. "ng" is always read as the letter ng, as most Welsh
dictionaries order it; telling it from n and g ("Bangor") needs a dictionary.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_WELSH = ["a", "b", "c", "ch", "d", "dd", "e", "f", "ff", "g", "ng", "h", "i", "j", "k", "l", "ll", "m", "n",
          "o", "p", "ph", "q", "r", "rh", "s", "t", "th", "u", "v", "w", "x", "y", "z"]  # fmt: skip
_RANK = {letter: i + 1 for i, letter in enumerate(_WELSH)}
_DIGRAPHS = {letter for letter in _WELSH if len(letter) == 2}


def _bare(text: str) -> str:
    """Lower case without accents ("Ŵ" is "w"); anything but letters and digits is a space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    out = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch if ch.isalnum() else " " for ch in out)


def welsh_letters(text: str) -> list[str]:
    """The letters of ``text`` in the Welsh alphabet ("llan" is ll, a, n)."""
    bare, out, i = _bare(text), [], 0
    while i < len(bare):
        if bare[i : i + 2] in _DIGRAPHS:
            out.append(bare[i : i + 2])
            i += 2
        else:
            out.append(bare[i])
            i += 1
    return out


def _rank(ch: str) -> tuple:
    if ch == " ":
        return (0,)
    if ch.isdigit():
        return (1, ch)
    return (2, _RANK.get(ch, len(_RANK) + 1), ch)


def sort_key(text: str, language: str = "en") -> tuple:
    """A key that orders ``text`` as a reader of ``language`` expects: spaces and punctuation
    first, then digits, then letters; the text itself breaks ties."""
    letters = welsh_letters(text) if (language or "en").startswith("cy") else list(_bare(text))
    return (tuple(_rank(ch) for ch in letters), text)


def sorted_by(items: Iterable[T], name: Callable[[T], str], language: str = "en") -> list[T]:
    """``items`` in alphabetical order of ``name(item)`` for a reader of ``language``."""
    return sorted(items, key=lambda item: sort_key(name(item), language))


def local_name(thing, language: str) -> str:
    """An organisation's, authority's or area's name in ``language`` (Welsh where it has one)."""
    if thing is None:
        return ""
    if (language or "en").startswith("cy") and getattr(thing, "name_cy", ""):
        return thing.name_cy
    return thing.name_en
