"""The EHR connection's start-up checks: a half-set configuration fails at start."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portal.fhir.checks import check_fhir_configuration, check_fhir_configured_in_production


def ids(errors) -> set[str]:
    return {error.id for error in errors}


@pytest.fixture
def p384_key(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "client_key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def ehr_settings(settings, p384_key):
    settings.FHIR_BASE_URL = "https://ehr.clinic.test/fhir"
    settings.FHIR_CLIENT_ID = "carebridge"
    settings.FHIR_KEY_ID = "key-1"
    settings.FHIR_PRIVATE_KEY_FILE = str(p384_key)
    settings.FHIR_SIGNING_ALG = "ES384"
    settings.FHIR_CA_BUNDLE = ""
    return settings


def test_a_complete_configuration_passes(ehr_settings):
    assert check_fhir_configuration() == []


def test_no_ehr_at_all_passes_but_production_is_warned(settings):
    settings.FHIR_BASE_URL = ""
    settings.PRODUCTION = True

    assert check_fhir_configuration() == []
    assert ids(check_fhir_configured_in_production()) == {"portal.W020"}


def test_plain_http_is_refused(ehr_settings):
    ehr_settings.FHIR_BASE_URL = "http://ehr.clinic.test/fhir"

    assert ids(check_fhir_configuration()) == {"portal.E020"}


def test_a_missing_client_id_is_refused(ehr_settings):
    ehr_settings.FHIR_CLIENT_ID = ""

    assert ids(check_fhir_configuration()) == {"portal.E021"}


def test_an_unknown_algorithm_is_refused(ehr_settings):
    ehr_settings.FHIR_SIGNING_ALG = "HS256"

    assert ids(check_fhir_configuration()) == {"portal.E022"}


@pytest.mark.parametrize("problem", ["missing", "wrong_curve", "public_only"])
def test_a_key_that_cannot_sign_es384_is_refused(ehr_settings, tmp_path, problem):
    path = tmp_path / "bad.pem"
    if problem == "wrong_curve":
        key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    elif problem == "public_only":
        key = ec.generate_private_key(ec.SECP384R1())
        path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    ehr_settings.FHIR_PRIVATE_KEY_FILE = str(path)

    assert ids(check_fhir_configuration()) == {"portal.E023"}


def test_a_missing_ca_bundle_is_refused(ehr_settings, tmp_path):
    ehr_settings.FHIR_CA_BUNDLE = str(tmp_path / "nope.pem")

    assert ids(check_fhir_configuration()) == {"portal.E024"}
