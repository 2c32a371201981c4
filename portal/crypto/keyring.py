"""The configured keys: versioned key-encryption keys, the blind-index key, the key store.

Settings are read on every call, so tests and ``override_settings`` take effect at
once; parsing is cached per setting value, so the hot path costs a dict lookup.
Errors name the setting and the entry's position, never key material.
"""

import base64
import binascii
import re
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from django.conf import settings

from portal.crypto.errors import KeyConfigurationError
from portal.crypto.keystore import FileKeyStore
from portal.crypto.primitives import KEY_BYTES

MIN_INDEX_KEY_BYTES = 32


class Keks(NamedTuple):
    """Key-encryption keys by version; ``newest`` wraps, the others only unwrap."""

    by_version: MappingProxyType[int, bytes]
    newest: int


def _decode_key(text: str) -> bytes:
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@lru_cache(maxsize=8)
def parse_keks(text: str) -> Keks:
    """``"3:base64key,2:base64key"`` (commas or whitespace between entries)."""
    entries = [e for e in re.split(r"[,\s]+", text.strip()) if e]
    if not entries:
        raise KeyConfigurationError("PORTAL_KEKS is empty: set PORTAL_KEKS or PORTAL_KEKS_FILE")
    keys: dict[int, bytes] = {}
    for position, entry in enumerate(entries, start=1):
        version, colon, encoded = entry.partition(":")
        if not colon or not version.isdigit() or int(version) < 1:
            raise KeyConfigurationError(
                f"PORTAL_KEKS entry {position} is not 'version:base64key' with a version >= 1"
            )
        try:
            key = _decode_key(encoded)
        except (binascii.Error, ValueError):
            raise KeyConfigurationError(f"PORTAL_KEKS version {version} is not base64") from None
        if len(key) != KEY_BYTES:
            raise KeyConfigurationError(f"PORTAL_KEKS version {version} is not a 32-byte key")
        if int(version) in keys:
            raise KeyConfigurationError(f"PORTAL_KEKS names version {version} twice")
        keys[int(version)] = key
    return Keks(MappingProxyType(keys), max(keys))


@lru_cache(maxsize=8)
def parse_index_key(text: str) -> bytes:
    if not text.strip():
        raise KeyConfigurationError(
            "PORTAL_BLIND_INDEX_KEY is empty: set PORTAL_BLIND_INDEX_KEY or its _FILE"
        )
    try:
        key = _decode_key(text)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError("PORTAL_BLIND_INDEX_KEY is not base64") from None
    if len(key) < MIN_INDEX_KEY_BYTES:
        raise KeyConfigurationError("PORTAL_BLIND_INDEX_KEY must be at least 32 bytes")
    return key


@lru_cache(maxsize=8)
def _store_at(directory: str) -> FileKeyStore:
    if not directory:
        raise KeyConfigurationError("PORTAL_KEY_STORE_DIR is not set")
    path = Path(directory)
    if not path.is_absolute():
        raise KeyConfigurationError("PORTAL_KEY_STORE_DIR must be an absolute path")
    return FileKeyStore(path)


@lru_cache(maxsize=8)
def parse_backup_key(text: str) -> bytes:
    if not text.strip():
        raise KeyConfigurationError("PORTAL_BACKUP_KEY is empty: set it or PORTAL_BACKUP_KEY_FILE")
    try:
        key = _decode_key(text)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError("PORTAL_BACKUP_KEY is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyConfigurationError("PORTAL_BACKUP_KEY is not a 32-byte key")
    return key


def backup_key() -> bytes:
    return parse_backup_key(settings.PORTAL_BACKUP_KEY)


def keks() -> Keks:
    return parse_keks(settings.PORTAL_KEKS)


def index_key() -> bytes:
    return parse_index_key(settings.PORTAL_BLIND_INDEX_KEY)


def key_store() -> FileKeyStore:
    return _store_at(settings.PORTAL_KEY_STORE_DIR)
