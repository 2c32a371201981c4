"""Billing and the front desk find a patient's demographics by MRN, and nothing clinical."""

from audit.actions import Action, Outcome
from tests.audit_helpers import last_event
from tests.conftest import sign_in_fully
from tests.portal.crypto.conftest import demographics_of, execute

DIRECTORY = "/staff/patients/directory/"


def test_it_finds_a_patient_by_mrn_for_the_front_desk(client, fran, alice):
    demographics_of(alice, given_name="Alice", family_name="Adams", mrn="A-1001")
    sign_in_fully(client, fran)
    response = client.post(DIRECTORY, {"mrn": " a-1001 "})
    assert response.status_code == 200
    assert "Alice Adams" in response.content.decode()
    event = last_event(Action.RECORD_VIEW)
    assert (event.actor_id, event.patient_id, event.object_type) == (
        fran.pk,
        alice.patient_id,
        "demographics",
    )


def test_it_says_plainly_when_no_patient_matches(client, bill, alice):
    demographics_of(alice, given_name="Alice", mrn="A-1001")
    sign_in_fully(client, bill)
    response = client.post(DIRECTORY, {"mrn": "A-9999"})
    assert "No patient has that medical record number" in response.content.decode()
    assert "Alice" not in response.content.decode()
    assert last_event(Action.DIRECTORY_SEARCH).outcome == Outcome.FAILURE


def test_it_shows_a_tampered_value_as_reported_not_as_a_crash(client, fran, alice):
    row = demographics_of(alice, given_name="Alice", family_name="Adams", mrn="A-1001")
    execute(
        "UPDATE portal_patient_demographics"
        " SET contact = set_byte(contact, 20, get_byte(contact, 20) # 255) WHERE id = %s",
        [row.pk],
    )
    sign_in_fully(client, fran)
    response = client.post(DIRECTORY, {"mrn": "A-1001"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Alice Adams" in html
    assert "unreadable" in html
    assert last_event(Action.DECRYPT_FAILED).object_id == str(row.pk)


def test_it_keeps_the_directory_from_clinicians_and_patients(make_client, carol, alice):
    for user in (carol, alice):
        client = make_client()
        sign_in_fully(client, user)
        assert client.post(DIRECTORY, {"mrn": "A-1001"}).status_code == 403


def test_it_searches_nothing_for_an_mrn_put_in_the_url(client, fran, alice):
    # Searches are POSTed: an MRN in a URL would reach logs, history and Referer.
    demographics_of(alice, given_name="Alice", family_name="Adams", mrn="A-1001")
    sign_in_fully(client, fran)
    response = client.get(DIRECTORY, {"mrn": "A-1001"})
    assert response.status_code == 200
    assert "Alice Adams" not in response.content.decode()
    assert 'method="post"' in response.content.decode()
