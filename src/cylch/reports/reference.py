"""Report reference numbers a person can read over the phone and type without error.

A reference is 8 data characters and 1 check character, shown as ``XXXX-XXXX-C``. The
alphabet has 31 symbols (digits 2-9 and the letters without I, L and O), so no character can
be mistaken for another (0/O, 1/I/L). 31 is prime, which is what makes the check work: with
position weights 1..9, the weighted sum modulo 31 changes

* for any single wrong character, because ``w * (a - b)`` is not 0 mod 31 when ``a != b``;
* for any swap of two neighbouring different characters, because ``(w_i - w_j) * (a - b)``
  is not 0 mod 31 when the weights differ.

(This is the pure-system construction of ISO 7064 with a prime modulus.)
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31
MODULUS = 31
DATA_LENGTH = 8
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_INVERSE_OF_CHECK_WEIGHT = pow(DATA_LENGTH + 1, -1, MODULUS)


def check_character(data: str) -> str:
    """The character that makes the weighted sum of ``data + check`` divisible by 31."""
    total = sum(_VALUE[ch] * weight for weight, ch in enumerate(data, start=1))
    return ALPHABET[(-total * _INVERSE_OF_CHECK_WEIGHT) % MODULUS]


def is_valid(reference: str) -> bool:
    chars = normalise(reference)
    if len(chars) != DATA_LENGTH + 1 or any(ch not in _VALUE for ch in chars):
        return False
    return sum(_VALUE[ch] * weight for weight, ch in enumerate(chars, start=1)) % MODULUS == 0


def normalise(reference: str) -> str:
    """Upper case, without spaces and dashes."""
    return re.sub(r"[\s\-]", "", reference or "").upper()


def new_reference() -> str:
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_LENGTH))
    return display(data + check_character(data))


def display(chars: str) -> str:
    chars = normalise(chars)
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"
