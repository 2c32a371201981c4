"""Asking for refills: what may be asked, routing, and the bad inputs that must write nothing."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.actions import Action, Outcome
from messaging.models import Absence
from refills import selectors
from refills.models import RefillItem, RefillRequest, Status
from refills.rules import Offer
from tests.audit_helpers import events
from tests.refills.conftest import CONTEXT, ask


def offers(alice):
    page = selectors.refills_page(actor=alice, patient_id=alice.patient_id, context=CONTEXT)
    return {m.medication_request_id: m for m in page.medicines}


def test_it_says_what_each_active_prescription_allows_in_plain_words(alice_medicines, alice):
    found = offers(alice)
    assert "med-glipizide" not in found  # stopped: not offered at all
    assert found["med-metformin"].offer == Offer.REFILL
    assert found["med-metformin"].reason == "Can be refilled online (3 refills left)."
    assert found["med-lisinopril"].offer == Offer.RENEWAL
    assert "expired" in found["med-lisinopril"].reason
    assert found["med-atorvastatin"].offer == Offer.RENEWAL
    assert "No refills are left" in found["med-atorvastatin"].reason
    assert found["med-oxycodone"].offer == Offer.NONE
    assert "controlled medicine" in found["med-oxycodone"].reason


def test_it_requests_several_medicines_at_once_with_an_encrypted_comment(alice_medicines, alice):
    request = ask(alice, "med-metformin", "med-lisinopril", comment="CANARY-refill-comment")
    items = {i.medication_request_id: i for i in request.items.all()}
    assert set(items) == {"med-metformin", "med-lisinopril"}
    assert items["med-lisinopril"].renewal
    assert not items["med-metformin"].renewal
    assert all(i.status == Status.REQUESTED for i in items.values())
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT comment::text FROM refills_refillrequest WHERE id = %s", [request.pk]
        )
        (stored,) = cursor.fetchone()
    assert "CANARY" not in stored
    assert RefillRequest.objects.get(pk=request.pk).comment == "CANARY-refill-comment"


def test_it_routes_to_the_prescriber_on_the_care_team(alice_medicines, alice, carol):
    assert ask(alice, "med-metformin").assigned_to == carol


def test_it_routes_to_the_delegate_while_the_prescriber_is_away(
    alice_medicines, alice, carol, nina
):
    from django.utils import timezone

    now = timezone.now()
    Absence.objects.create(
        user=carol,
        delegate=nina,
        starts_at=now - timezone.timedelta(hours=1),
        ends_at=now + timezone.timedelta(days=1),
    )
    assert ask(alice, "med-metformin").assigned_to == nina


def test_it_routes_to_the_pool_when_the_prescriber_is_not_on_the_care_team(
    alice_medicines, alice, carol, ward
):
    ward.members.remove(carol)
    assert ask(alice, "med-metformin").assigned_to is None


def test_it_refuses_a_controlled_substance_even_posted_by_hand(alice_medicines, alice):
    with pytest.raises(ValidationError):
        ask(alice, "med-oxycodone")
    assert not RefillItem.objects.exists()
    (event,) = events(Action.REFILL_REFUSED)
    assert event.outcome == Outcome.DENIED


@pytest.mark.parametrize("forged", ["med-mallory", "med-glipizide", "no-such-id", ""])
def test_it_refuses_what_is_not_one_of_the_patients_active_prescriptions(
    alice_medicines, mallory_medicines, alice, forged
):
    with pytest.raises(ValidationError):
        ask(alice, "med-metformin", forged)
    assert not RefillRequest.objects.exists()


def test_it_refuses_a_duplicate_while_one_is_open(alice_medicines, alice):
    ask(alice, "med-metformin")
    with pytest.raises(ValidationError):
        ask(alice, "med-metformin")
    assert RefillItem.objects.count() == 1


def test_a_replayed_form_finds_its_first_request(alice_medicines, alice):
    token = uuid.uuid4()
    first = ask(alice, "med-metformin", token=token)
    again = ask(alice, "med-metformin", token=token)
    assert first.pk == again.pk
    assert RefillRequest.objects.count() == 1
    assert len(events(Action.REFILL_REQUEST)) == 1


def test_it_refuses_another_patients_id(alice_medicines, alice, mallory):
    from refills import services

    with pytest.raises(Http404):
        services.refill_request_create(
            actor=mallory,
            patient_id=alice.patient_id,
            medication_request_ids=["med-metformin"],
            pharmacy_id=1,
            comment="",
            submit_token=uuid.uuid4(),
            context=CONTEXT,
        )


def test_the_minimum_interval_holds_after_a_decision(alice_medicines, alice, carol):
    from refills import services

    request = ask(alice, "med-metformin")
    item = request.items.get()
    services.refill_item_decide(
        actor=carol, item_id=item.pk, decision="deny", reason_code="TOOEARLY", context=CONTEXT
    )
    found = offers(alice)["med-metformin"]
    assert found.offer == Offer.NONE
    assert "ask again from" in found.reason


def test_the_notice_job_holds_the_patients_id_only(alice_medicines, alice):
    ask(alice, "med-metformin")
    job = ProcrastinateJob.objects.get(task_name="refills.send_refill_notice")
    assert job.args == {"patient_id": str(alice.patient_id)}
