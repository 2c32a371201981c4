"""SMART backend services against the real server: it verifies our signed assertion."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from portal.fhir import FhirClient, FhirError
from tests.ehr_fixtures import write_private_key


def search_patients(ehr_server, **smart) -> list[dict]:
    client = FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config(**smart))
    with client:
        return list(client.search("Patient", {"_id": "example"}))


def other_key(tmp_path: Path) -> Path:
    path = tmp_path / "other_key.pem"
    write_private_key(path, ec.generate_private_key(ec.SECP384R1()))
    return path


def test_it_gets_a_token_for_a_signed_assertion_and_reads_with_it(ehr_server):
    client = FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config())
    with client:
        token = client.auth.token()
        patients = list(client.search("Patient", {"_id": "example"}))

    assert token.count(".") == 2
    assert [p["id"] for p in patients] == ["example"]


def test_it_is_refused_a_token_for_an_assertion_signed_with_another_key(ehr_server, tmp_path):
    with pytest.raises(FhirError) as refused:
        search_patients(ehr_server, private_key_file=other_key(tmp_path))

    assert (refused.value.reason, refused.value.status) == ("token", 401)


def test_it_is_refused_a_token_under_an_unknown_client_id(ehr_server):
    with pytest.raises(FhirError) as refused:
        search_patients(ehr_server, client_id="someone-else")

    assert (refused.value.reason, refused.value.status) == ("token", 401)


def test_it_refuses_a_grant_narrower_than_it_asked_for(ehr_server):
    # The server grants the registered part only (Patient), which would make pages
    # silently miss data; the client refuses the token instead.
    with pytest.raises(FhirError) as refused:
        search_patients(ehr_server, scope="system/Patient.rs system/Practitioner.rs")

    assert refused.value.reason == "scope"


def test_it_is_refused_a_token_for_scopes_it_was_never_registered_for(ehr_server):
    with pytest.raises(FhirError) as refused:
        search_patients(ehr_server, scope="system/Practitioner.rs")

    assert (refused.value.reason, refused.value.status) == ("token", 400)


def test_it_cannot_read_without_a_token(ehr_server):
    with FhirClient(ehr_server.fhir_config()) as client, pytest.raises(FhirError) as refused:
        list(client.search("Patient", {"_id": "example"}))

    assert (refused.value.reason, refused.value.status) == ("unauthorized", 401)


def test_its_token_does_not_reach_types_outside_its_scope(ehr_server):
    client = FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config())
    with client, pytest.raises(FhirError) as refused:
        list(client.search("Practitioner", {}))

    assert refused.value.status == 403
