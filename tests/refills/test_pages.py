"""The refill pages: the medicines page column, the form, status pages, queue and decisions,
and the negative paths (another patient's request, non-clinical roles, forged posts)."""

import uuid

import pytest

from refills.models import RefillItem, RefillRequest, Status
from tests.conftest import sign_in_fully
from tests.refills.conftest import ask


def test_the_medicines_page_says_what_can_be_refilled_and_why_not(client, alice_medicines, alice):
    sign_in_fully(client, alice)
    html = client.get("/patient/records/medications/").content.decode()
    assert "Can be refilled online (3 refills left)." in html
    assert "Request a refill" in html
    assert "Request a renewal" in html
    assert "controlled medicine: it cannot be refilled online" in html


def test_the_staff_medicines_page_has_no_refill_column(client, alice_medicines, alice, carol):
    sign_in_fully(client, carol)
    html = client.get(f"/staff/patients/{alice.patient_id}/medications/").content.decode()
    assert "Refill online" not in html


def test_a_patient_requests_two_medicines_and_sees_the_status_page(
    client, alice_medicines, alice, pharmacy
):
    sign_in_fully(client, alice)
    form = client.get("/patient/refills/new/?medicine=med-metformin")
    assert form.status_code == 200
    token = form.context["form"].initial["submit_token"]
    data = {
        "medicines": ["med-metformin", "med-lisinopril"],
        "pharmacy": pharmacy.pk,
        "comment": "Thanks",
        "submit_token": token,
    }
    response = client.post("/patient/refills/new/", data)
    assert response.status_code == 302
    again = client.post("/patient/refills/new/", data)  # double submit
    assert again.status_code == 302
    assert again["Location"] == response["Location"]
    assert RefillRequest.objects.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Metformin 1000 mg oral tablet" in page
    assert "Requested" in page
    assert "Corner Pharmacy" in page


def test_the_form_re_renders_with_errors_keeping_the_input(client, alice_medicines, alice):
    sign_in_fully(client, alice)
    response = client.post(
        "/patient/refills/new/",
        {
            "medicines": ["med-metformin"],
            "pharmacy": "",
            "comment": "keep me",
            "submit_token": uuid.uuid4(),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "keep me" in html
    assert 'value="med-metformin" id="id_medicines_0" checked' in html or "checked" in html
    assert not RefillRequest.objects.exists()


def test_a_forged_post_of_a_controlled_substance_writes_nothing(
    client, alice_medicines, alice, pharmacy
):
    sign_in_fully(client, alice)
    html = client.get("/patient/refills/new/").content.decode()
    assert "med-oxycodone" not in html  # never offered
    response = client.post(
        "/patient/refills/new/",
        {"medicines": ["med-oxycodone"], "pharmacy": pharmacy.pk, "submit_token": uuid.uuid4()},
    )
    assert response.status_code == 400
    assert not RefillItem.objects.exists()


def test_another_patients_request_is_a_404(client, metformin_request, mallory):
    sign_in_fully(client, mallory)
    assert client.get(f"/patient/refills/{metformin_request.pk}/").status_code == 404
    assert client.get(f"/patient/refills/{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize("cast", ["bill", "fran", "ada", "otto", "alice"])
def test_non_clinical_roles_are_refused_the_care_team_routes(
    client, metformin_request, cast, request
):
    sign_in_fully(client, request.getfixturevalue(cast))
    item = metformin_request.items.get()
    base = f"/staff/refills/{metformin_request.pk}/"
    assert client.get("/staff/refills/").status_code == 403
    assert client.get(base).status_code == 403
    assert client.post(f"{base}items/{item.pk}/decide/", {"decision": "deny"}).status_code == 403
    assert RefillItem.objects.get().status == Status.REQUESTED


def test_a_clinician_off_the_care_team_gets_404(client, metformin_request, dave):
    sign_in_fully(client, dave)
    item = metformin_request.items.get()
    base = f"/staff/refills/{metformin_request.pk}/"
    assert client.get(base).status_code == 404
    assert (
        client.post(f"{base}items/{item.pk}/decide/", {"decision": "appointment"}).status_code
        == 404
    )
    assert RefillItem.objects.get().status == Status.REQUESTED


def test_the_care_team_works_the_queue_and_the_patient_sees_the_outcome(
    client, make_client, alice_medicines, alice, carol
):
    request = ask(alice, "med-metformin", "med-lisinopril")
    metformin = request.items.get(medication_request_id="med-metformin")
    lisinopril = request.items.get(medication_request_id="med-lisinopril")
    sign_in_fully(client, carol)
    queue = client.get("/staff/refills/").content.decode()
    assert "Metformin 1000 mg oral tablet" in queue
    assert "Lisinopril" in queue
    base = f"/staff/refills/{request.pk}/items/"
    ok = client.post(
        f"{base}{metformin.pk}/decide/", {"decision": "approve", "refills": 2, "days_supply": 90}
    )
    assert ok.status_code == 302
    bad = client.post(f"{base}{lisinopril.pk}/decide/", {"decision": "deny"})
    assert bad.status_code == 400
    assert "Choose a reason" in bad.content.decode()
    client.post(f"{base}{lisinopril.pk}/decide/", {"decision": "deny", "reason_code": "NEEDAPMT"})
    patient = sign_in_fully(make_client(), alice)
    html = patient.get(f"/patient/refills/{request.pk}/").content.decode()
    assert "Approved" in html
    assert "waiting for the EHR" in html
    assert "Denied" in html
    assert "Patient needs appointment" in html


def test_an_item_posted_under_another_request_is_a_404(client, alice_medicines, alice, carol):
    first = ask(alice, "med-metformin")
    other = ask(alice, "med-lisinopril")
    sign_in_fully(client, carol)
    item = first.items.get()
    response = client.post(
        f"/staff/refills/{other.pk}/items/{item.pk}/decide/", {"decision": "appointment"}
    )
    assert response.status_code == 404
    assert RefillItem.objects.get(pk=item.pk).status == Status.REQUESTED
