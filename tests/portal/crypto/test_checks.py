"""Production refuses to start without its PHI keys; encrypted fields need a PHIModel."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.db import models
from django.test.utils import isolate_apps

from patients.models import PatientDemographics
from portal.crypto.checks import model_errors
from portal.crypto.fields import EncryptedTextField
from portal.crypto.models import PHIModel

ROOT = Path(__file__).resolve().parents[3]


def deploy_check(tmp_path, **env) -> subprocess.CompletedProcess:
    key = tmp_path / "secret_key"
    key.write_text("k" * 64)
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "PORTAL_", "ALLOWED_HOSTS", "EMAIL_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**clean, "PORTAL_ENV": "production", "DJANGO_SECRET_KEY_FILE": str(key), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_refuses_production_without_phi_keys(tmp_path):
    result = deploy_check(tmp_path)
    assert result.returncode != 0
    for code in ("portal.E010", "portal.E011", "portal.E012"):
        assert code in result.stderr


def test_it_names_a_malformed_kek_without_printing_it(tmp_path):
    secret_looking = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
    result = deploy_check(tmp_path, PORTAL_KEKS=f"1:{secret_looking}")
    assert "portal.E010" in result.stderr
    assert "version 1 is not a 32-byte key" in result.stderr
    assert secret_looking not in result.stderr


def test_it_accepts_production_phi_keys(tmp_path):
    keks = tmp_path / "keks"
    keks.write_text(f"2:{base64.b64encode(secrets.token_bytes(32)).decode()}\n")
    result = deploy_check(
        tmp_path,
        PORTAL_KEKS_FILE=str(keks),
        PORTAL_BLIND_INDEX_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        PORTAL_KEY_STORE_DIR=str(tmp_path / "keystore"),
    )
    for code in ("portal.E010", "portal.E011", "portal.E012"):
        assert code not in result.stderr


def test_it_accepts_the_demographics_model():
    assert model_errors(PatientDemographics) == []


def test_it_refuses_encrypted_fields_outside_a_phi_model():
    with isolate_apps("portal"):

        class Loose(models.Model):
            note = EncryptedTextField()

            class Meta:
                app_label = "portal"

            def __str__(self) -> str:
                return "loose"

        assert [e.id for e in model_errors(Loose)] == ["portal.E013"]


def test_it_refuses_a_phi_model_without_a_way_to_its_patient():
    with isolate_apps("portal"):

        class Orphan(PHIModel):
            note = EncryptedTextField()

            class Meta:
                app_label = "portal"

        assert [e.id for e in model_errors(Orphan)] == ["portal.E015"]
