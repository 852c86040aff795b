"""The unified social credit code (统一社会信用代码) of GB 32100-2015.

18 characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z);
the last one is a check character over the first 17 with fixed weights.
"""

from __future__ import annotations

import operator

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ALLOWED = frozenset(ALPHABET)


# Per position, each allowed character's weighted value: a bulk import checks a code with
# 17 lookups in C (``map`` over these tables) instead of a Python loop.
_WEIGHTED = tuple({ch: VALUES[ch] * w for ch in ALPHABET} for w in WEIGHTS)
_lookup = dict.__getitem__


def check_character(body: str) -> str:
    """The check character of the first 17 characters ``body``."""
    total = sum(map(operator.mul, map(VALUES.__getitem__, body), WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """Whether ``code`` is a valid credit code (``problem`` says why not); fast."""
    if len(code) != 18:
        return False
    try:
        total = sum(map(_lookup, _WEIGHTED, code))
    except KeyError:
        return False
    return ALPHABET[(31 - total % 31) % 31] == code[17]


def problem(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or None if it is."""
    if len(code) != 18:
        return f"a credit code has 18 characters, not {len(code)}"
    if not ALLOWED.issuperset(code):
        bad = sorted(set(code) - ALLOWED)
        return f"characters not allowed in a credit code: {''.join(bad)}"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, expected {expected}"
    return None


def normalize(code: str) -> str:
    return code.strip().upper()


def complete(body: str) -> str:
    """``body`` (17 characters) followed by its check character."""
    return body + check_character(body)
