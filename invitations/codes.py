"""Activation codes: long enough that guessing is hopeless, easy to read from a letter.

16 characters from 23 with no look-alikes (none of 0/O, 1/I/L, 2/Z, 5/S, 8/B,
U/V), shown as four groups of four: 23^16 ≈ 2^72 codes, with at most 5 tries
per code and a limit per client address. Only a keyed hash is stored
(portal/crypto's blind index under its own purpose), so a copy of the database
cannot be used to activate an account. What a person types is normalised
first: case, spaces and dashes do not matter.
"""

import secrets

from portal.crypto.blind_index import blind_index

ALPHABET = "ACDEFGHJKMNPQRTWXY34679"
LENGTH = 16
GROUP = 4
_PURPOSE = "activation_code"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str:
    """What the person typed, as stored codes are made: upper case, no separators."""
    return "".join(c for c in typed.upper() if c.isalnum())


def shown(code: str) -> str:
    """The code as printed and shown: ``ABCD-EFGH-JKMN-PQRT``."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def digest(code: str) -> bytes:
    """The stored form of a code (keyed: the database alone cannot test guesses)."""
    return blind_index(normalise(code), purpose=_PURPOSE)


def well_formed(typed: str) -> bool:
    code = normalise(typed)
    return len(code) == LENGTH and all(c in ALPHABET for c in code)
