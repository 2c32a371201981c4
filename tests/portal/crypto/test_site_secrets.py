"""Secrets of no patient (second-factor seeds): sealed under the KEK, bound to their owner,
re-sealed by rotate_keys; and keyed digests for what only needs checking."""

import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import AuthenticatorDevice
from audit.actions import Action
from portal.crypto.errors import DecryptionError, InvalidCiphertext
from portal.crypto.site_secrets import (
    open_site_secret,
    seal_site_secret,
    secret_digest,
    site_secret_version,
)
from tests.audit_helpers import events

SEED = bytes(range(20))


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


def stored_version(device: AuthenticatorDevice) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seed FROM accounts_authenticatordevice WHERE id = %s", [device.pk])
        return site_secret_version(bytes(cursor.fetchone()[0]))


def test_it_opens_only_with_the_same_purpose_and_associated_data(phi_keys):
    blob = seal_site_secret(SEED, purpose="totp_seed", aad=b"row-1")
    assert open_site_secret(blob, purpose="totp_seed", aad=b"row-1") == SEED
    with pytest.raises(InvalidCiphertext):
        open_site_secret(blob, purpose="totp_seed", aad=b"row-2")
    with pytest.raises(InvalidCiphertext):
        open_site_secret(blob, purpose="other", aad=b"row-1")
    flipped = blob[:20] + bytes([blob[20] ^ 1]) + blob[21:]
    with pytest.raises(InvalidCiphertext):
        open_site_secret(flipped, purpose="totp_seed", aad=b"row-1")


def test_it_refuses_a_blob_relabelled_with_another_kek_version(settings, phi_keys):
    blob = seal_site_secret(SEED, purpose="totp_seed", aad=b"row")
    settings.PORTAL_KEKS = phi_keys.keks(2, 1)
    relabelled = (2).to_bytes(4, "big") + blob[4:]
    with pytest.raises(InvalidCiphertext):
        open_site_secret(relabelled, purpose="totp_seed", aad=b"row")


def test_a_digest_depends_on_the_owner_the_purpose_and_the_key(settings, phi_keys):
    alice, mallory = uuid.uuid4(), uuid.uuid4()
    digest = secret_digest("kq4p7mzt2x", purpose="backup_code", owner=alice)
    assert digest == secret_digest("kq4p7mzt2x", purpose="backup_code", owner=alice)
    assert digest != secret_digest("kq4p7mzt2x", purpose="backup_code", owner=mallory)
    assert digest != secret_digest("kq4p7mzt2x", purpose="other", owner=alice)
    settings.PORTAL_BLIND_INDEX_KEY = "A" * 44
    assert digest != secret_digest("kq4p7mzt2x", purpose="backup_code", owner=alice)


def test_it_refuses_to_write_a_seed_without_a_model_instance(db, alice):
    with pytest.raises(TypeError, match="sealed per row"):
        AuthenticatorDevice.objects.filter(user=alice).update(seed=SEED)


def test_an_older_kek_still_opens_and_rotation_reseals_under_the_newest(
    db, alice, mallory, settings, phi_keys
):
    seeds = {d.pk: d.bin_key for d in AuthenticatorDevice.objects.all()}
    settings.PORTAL_KEKS = phi_keys.keks(2, 1)
    assert {d.pk: d.bin_key for d in AuthenticatorDevice.objects.all()} == seeds
    with pytest.raises(
        CommandError, match=r"2 second-factor secrets are still sealed .*version 1: 2"
    ):
        rotate("--check")

    assert "Re-sealed 2 second-factor secrets under KEK version 2" in rotate()

    assert {stored_version(d) for d in AuthenticatorDevice.objects.all()} == {2}
    assert events(Action.KEY_ROTATED)[-1].object_id == "v2:2"
    assert "all second-factor secrets are sealed by it" in rotate("--check")
    settings.PORTAL_KEKS = phi_keys.keks(2)  # version 1 retired
    assert {d.pk: d.bin_key for d in AuthenticatorDevice.objects.all()} == seeds


def test_rotation_names_a_seed_it_cannot_open_and_leaves_it(db, alice, settings, phi_keys):
    device = AuthenticatorDevice.objects.get(user=alice)
    settings.PORTAL_KEKS = phi_keys.keks(2)  # version 1 removed before rotating
    with pytest.raises(CommandError, match=rf"accounts.authenticatordevice {device.pk}"):
        rotate()
    assert stored_version(device) == 1
    with pytest.raises(DecryptionError):
        _ = AuthenticatorDevice.objects.get(pk=device.pk).bin_key
