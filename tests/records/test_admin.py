"""Administrators see what the sync refused (ids and reason codes) and cannot edit it."""

import pytest

from records.models import Quarantine, QuarantineReason, SyncState
from tests.conftest import sign_in_fully

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarantined(alice):
    return Quarantine.objects.create(
        patient=alice.patient,
        resource_type="Observation",
        fhir_id="obs-broken-7",
        reason=QuarantineReason.INVALID,
        detail="invalid:valueQuantity.value:decimal_parsing",
    )


def test_an_administrator_sees_the_quarantine_with_reasons(client, ada, quarantined):
    sign_in_fully(client, ada)

    page = client.get("/admin/records/quarantine/").content.decode()

    assert "obs-broken-7" in page
    assert "invalid:valueQuantity.value:decimal_parsing" in page
    assert "Failed FHIR R4 validation" in page


def test_nobody_adds_edits_or_deletes_quarantine_or_sync_rows(client, ada, quarantined, alice):
    state = SyncState.objects.create(patient=alice.patient, resource_type="Observation")
    sign_in_fully(client, ada)

    assert client.get("/admin/records/quarantine/add/").status_code == 403
    assert client.post(f"/admin/records/quarantine/{quarantined.pk}/delete/").status_code == 403
    response = client.post(
        f"/admin/records/quarantine/{quarantined.pk}/change/", {"fhir_id": "changed"}
    )
    assert response.status_code == 403
    assert Quarantine.objects.get(pk=quarantined.pk).fhir_id == "obs-broken-7"
    assert client.get(f"/admin/records/syncstate/{state.pk}/delete/").status_code == 403


def test_other_roles_cannot_see_the_quarantine(make_client, carol, otto, quarantined):
    for user in (carol, otto):
        client = make_client()
        sign_in_fully(client, user)
        assert client.get("/admin/records/quarantine/").status_code == 403


def test_administrators_hold_no_permission_on_clinical_models(ada):
    assert ada.has_perm("records.view_quarantine")
    assert not ada.has_perm("records.change_quarantine")
    assert not ada.has_perm("records.view_fhirrecord")
    assert not ada.has_perm("patients.view_patient")
    assert not ada.has_perm("patients.change_patient")
    assert not ada.has_perm("patients.view_patientdemographics")
