"""manage.py backup_keys / restore_keys: key material encrypted to the offline recovery key."""

import io
import os

import pytest
from django.core.management import CommandError, call_command

from portal.crypto import disposals, keyring
from portal.crypto.services import patient_shred
from tests.portal.crypto.conftest import demographics_of


@pytest.fixture
def recovery_pair(tmp_path) -> tuple:
    private = tmp_path / "offline" / "recovery.pem"
    private.parent.mkdir()
    out = io.StringIO()
    call_command("recovery_key", str(private), stdout=out)
    return private, out.getvalue().strip()


def backup_keys(dest, public: str) -> str:
    out = io.StringIO()
    call_command("backup_keys", str(dest), f"--recovery-public-key={public}", stdout=out)
    return out.getvalue()


def restore_keys(src, private, secrets_dir) -> str:
    out = io.StringIO()
    call_command(
        "restore_keys",
        str(src),
        recovery_key=str(private),
        secrets_dir=str(secrets_dir),
        stdout=out,
    )
    return out.getvalue()


def test_it_makes_a_recovery_key_pair_and_never_overwrites_the_private_half(recovery_pair):
    private, public = recovery_pair
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    assert len(public) == 44
    with pytest.raises(CommandError, match="never overwritten"):
        call_command("recovery_key", str(private), stdout=io.StringIO())


def test_it_backs_up_and_restores_every_key_and_share(
    db, alice, mallory, recovery_pair, tmp_path, settings, keys
):
    private, public = recovery_pair
    demographics_of(alice)
    demographics_of(mallory)
    store = keyring.key_store()
    shares = {p: store.get(p) for p in (alice.patient_id, mallory.patient_id)}
    dest = tmp_path / "keys.cbkeys"

    output = backup_keys(dest, public)

    assert "2 key shares" in output
    data = dest.read_bytes()
    for secret in (keys.keks.split(":")[1], keys.index_key, keys.backup_key):
        assert secret.encode() not in data
    assert all(share not in data for share in shares.values())
    assert oct(dest.stat().st_mode & 0o777) == "0o600"

    # The server is lost: a new, empty key store and no secrets.
    settings.PORTAL_KEY_STORE_DIR = str(tmp_path / "new-keystore")
    secrets_dir = tmp_path / "new-secrets"
    output = restore_keys(dest, private, secrets_dir)

    assert "2 added" in output
    with pytest.raises(CommandError, match="already holds keks"):
        restore_keys(dest, private, secrets_dir)
    assert (secrets_dir / "keks").read_text() == keys.keks
    assert (secrets_dir / "backup_key").read_text() == keys.backup_key
    assert (secrets_dir / "blind_index_key").read_text() == keys.index_key
    assert (secrets_dir / "audit_signing_key").read_text() == settings.AUDIT_SIGNING_KEY
    assert oct((secrets_dir / "keks").stat().st_mode & 0o777) == "0o600"
    assert {p: keyring.key_store().get(p) for p in shares} == shares


def test_a_key_backup_older_than_a_disposal_does_not_bring_the_share_back(
    db, alice, mallory, recovery_pair, tmp_path
):
    private, public = recovery_pair
    demographics_of(alice)
    demographics_of(mallory)
    dest = tmp_path / "keys.cbkeys"
    backup_keys(dest, public)
    patient_shred(patient_id=alice.patient_id)

    output = restore_keys(dest, private, tmp_path / "secrets")

    store = keyring.key_store()
    assert store.get(alice.patient_id) is None
    assert store.get(mallory.patient_id) is not None
    assert "1 in the log, 1 shares destroyed again" in output
    assert [d.patient_id for d in disposals.entries(store.root)] == [alice.patient_id]


def test_it_refuses_another_recovery_key_and_an_altered_backup(db, alice, recovery_pair, tmp_path):
    private, public = recovery_pair
    demographics_of(alice)
    dest = tmp_path / "keys.cbkeys"
    backup_keys(dest, public)
    other = tmp_path / "other.pem"
    call_command("recovery_key", str(other), stdout=io.StringIO())
    secrets_dir = tmp_path / "secrets"

    with pytest.raises(CommandError, match="encrypted to recovery key"):
        restore_keys(dest, other, secrets_dir)

    data = bytearray(dest.read_bytes())
    data[-30] ^= 1
    altered = tmp_path / "altered.cbkeys"
    altered.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="does not authenticate"):
        restore_keys(altered, private, secrets_dir)
    assert not secrets_dir.exists()


def test_it_needs_a_recovery_public_key(db, tmp_path, settings):
    settings.PORTAL_RECOVERY_PUBLIC_KEY = ""
    with pytest.raises(CommandError, match="no recovery public key"):
        call_command("backup_keys", str(tmp_path / "k"), stdout=io.StringIO())
    assert not os.path.exists(tmp_path / "k")
