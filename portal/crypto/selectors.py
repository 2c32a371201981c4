"""Reads: unwrapping patients' data keys, and what rotation has left to do.

Infrastructure for the encrypted fields, not a user-facing selector: whether
an actor may see a row is decided before its fields are read.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count

from portal.crypto import envelope, keyring
from portal.crypto.errors import InvalidCiphertext, KeyUnavailable, PatientKeyShredded
from portal.crypto.models import PatientKey
from portal.crypto.primitives import Aead
from portal.crypto.scope import current_scope


def unwrap_key(
    *, patient_id: uuid.UUID, kek_version: int, wrapped_key: bytes, shredded_at: datetime | None
) -> bytes:
    """The raw data key of one PatientKey row (the caller keeps it only as long as needed)."""
    if shredded_at is not None:
        raise PatientKeyShredded(patient_id)
    kek = keyring.keks().by_version.get(kek_version)
    if kek is None:
        raise KeyUnavailable(patient_id, f"KEK version {kek_version} is not in PORTAL_KEKS")
    share = keyring.key_store().get(patient_id)
    if share is None:
        raise KeyUnavailable(patient_id, "the key share is missing from the key store")
    try:
        return envelope.unwrap(
            bytes(wrapped_key), patient_id=patient_id, version=kek_version, kek=kek, share=share
        )
    except InvalidCiphertext:
        raise KeyUnavailable(patient_id, "the wrapped key does not authenticate") from None


def data_key(patient_id: uuid.UUID | None) -> Aead:
    """The patient's data key, unwrapped at most once per key scope."""
    if patient_id is None:
        raise KeyUnavailable(None, "the row has no patient")
    scope = current_scope()
    if scope is not None and (cached := scope.keys.get(patient_id.int)) is not None:
        return cached
    row = PatientKey.objects.filter(pk=patient_id).values_list(
        "kek_version", "wrapped_key", "shredded_at"
    )
    found = row.first()
    if found is None:
        raise KeyUnavailable(patient_id, "the patient has no data key")
    version, wrapped, shredded_at = found
    key = Aead(
        unwrap_key(
            patient_id=patient_id, kek_version=version, wrapped_key=wrapped, shredded_at=shredded_at
        )
    )
    if scope is not None:
        scope.keys[patient_id.int] = key
    return key


def preload_keys(patient_ids: Iterable[uuid.UUID]) -> None:
    """Unwrap the keys of a page's patients with one query (inside a key scope; else no-op).

    Keys that cannot be unwrapped are left out, so each affected field still
    fails on its own, with its own model, field and row in the error.
    """
    scope = current_scope()
    if scope is None:
        return
    wanted = {p for p in patient_ids if p.int not in scope.keys}
    rows = PatientKey.objects.filter(pk__in=wanted, shredded_at__isnull=True).values_list(
        "patient_id", "kek_version", "wrapped_key"
    )
    for patient_id, version, wrapped in rows:
        try:
            raw = unwrap_key(
                patient_id=patient_id, kek_version=version, wrapped_key=wrapped, shredded_at=None
            )
        except KeyUnavailable:
            continue
        scope.keys[patient_id.int] = Aead(raw)


def live_keys_by_version() -> dict[int, int]:
    """How many unshredded data keys each KEK version wraps."""
    rows = (
        PatientKey.objects.filter(shredded_at__isnull=True)
        .values_list("kek_version")
        .annotate(n=Count("pk"))
        .order_by("kek_version")
    )
    return dict(rows)


def site_secrets_by_version() -> dict[int, int]:
    """How many sealed site secrets (second-factor seeds) each KEK version sealed."""
    from portal.crypto.site_secrets import site_secret_fields, site_secret_version

    counts: dict[int, int] = {}
    for model, f in site_secret_fields():
        for sealed in model._default_manager.filter(**{f"{f.name}__isnull": False}).values_list(
            f.attname, flat=True
        ):
            version = site_secret_version(sealed.blob)
            counts[version] = counts.get(version, 0) + 1
    return counts
