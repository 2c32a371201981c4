"""Blind indexes: HMAC-SHA256 of a normalised value under a per-purpose key.

The purpose key is HKDF(PORTAL_BLIND_INDEX_KEY, "carebridge:blind-index:v1:" + purpose),
so an MRN index and an e-mail index of the same text differ. Normalising first
makes the lookup forgiving in the ways people type: case, surrounding and
repeated spaces, Unicode compatibility forms; for MRNs also spaces and hyphens.

Changing the index key means recomputing every index from the decrypted source
values; there is no versioning for it (unlike the KEKs).
"""

import hmac
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from portal.crypto import keyring
from portal.crypto.primitives import derive_key

_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_SPACES = re.compile(r"\s+")


def _text(value: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()


def _identifier(value: str) -> str:
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)).casefold()


NORMALISERS: dict[str, Callable[[str], str]] = {
    "mrn": _identifier,
    "email": _text,
}


@lru_cache(maxsize=64)
def _purpose_key(index_key: bytes, purpose: str) -> bytes:
    return derive_key(index_key, info=b"carebridge:blind-index:v1:" + purpose.encode())


def normalise(value: str, *, purpose: str) -> str:
    return NORMALISERS.get(purpose, _text)(value)


def blind_index(value: object, *, purpose: str) -> bytes:
    """The 32-byte index of ``value`` for ``purpose`` (e.g. "mrn", "email")."""
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError("a blind-index purpose is a short lower-case identifier")
    key = _purpose_key(keyring.index_key(), purpose)
    return hmac.digest(key, normalise(str(value), purpose=purpose).encode(), "sha256")
