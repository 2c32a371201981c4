"""Crypto-shredding from the portal: administrators only, confirmed twice."""

from accounts.models import User, UserSession
from audit.actions import Action, Severity
from patients.models import PatientDemographics
from portal.crypto.values import Undecryptable
from tests.audit_helpers import last_event
from tests.conftest import sign_in_fully
from tests.portal.crypto.conftest import demographics_of


def shred_url(user) -> str:
    return f"/staff/patients/{user.patient_id}/shred/"


def test_it_shreds_only_after_the_id_and_then_the_word(make_client, ada, alice):
    demographics_of(alice, given_name="Alice")
    patient_session = make_client()
    sign_in_fully(patient_session, alice)
    client = make_client()
    sign_in_fully(client, ada)
    reason = "Retention period ended (ref 2026-114)"

    first = client.post(shred_url(alice), {"patient_id": str(alice.patient_id), "reason": reason})
    assert first.status_code == 200
    assert "word" in first.context["form"].fields
    assert isinstance(PatientDemographics.objects.get().given_name, str)  # nothing yet

    done = client.post(
        shred_url(alice),
        {"patient_id": str(alice.patient_id), "reason": reason, "word": "SHRED"},
    )
    assert done.status_code == 302
    assert isinstance(PatientDemographics.objects.get().given_name, Undecryptable)
    event = last_event(Action.PATIENT_SHREDDED)
    assert (event.patient_id, event.severity, event.actor_id) == (
        alice.patient_id,
        Severity.HIGH,
        ada.pk,
    )
    assert not User.objects.get(pk=alice.pk).is_active
    assert not UserSession.objects.filter(user=alice).exists()


def test_it_refuses_the_wrong_id_or_word_and_keeps_the_data(client, ada, alice, mallory):
    demographics_of(alice, given_name="Alice")
    sign_in_fully(client, ada)
    wrong_id = client.post(
        shred_url(alice), {"patient_id": str(mallory.patient_id), "reason": "Retention ended"}
    )
    assert wrong_id.context["form"].errors["patient_id"]
    wrong_word = client.post(
        shred_url(alice),
        {"patient_id": str(alice.patient_id), "reason": "Retention ended", "word": "shred"},
    )
    assert wrong_word.context["form"].errors["word"]
    assert PatientDemographics.objects.get().given_name == "Alice"


def test_it_lets_no_one_but_an_administrator_shred(make_client, alice, carol, otto):
    for user in (carol, otto, alice):
        client = make_client()
        sign_in_fully(client, user)
        response = client.post(
            shred_url(alice),
            {"patient_id": str(alice.patient_id), "reason": "Retention ended", "word": "SHRED"},
        )
        assert response.status_code == 403
