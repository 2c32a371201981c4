"""Care-team decisions: who may decide what, the high-risk second factor, the patient's notices."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from audit.actions import Action
from refills import services, tasks
from refills.models import EhrState, RefillItem, RefillRequest, Status
from tests.audit_helpers import events
from tests.conftest import device_of, totp_now
from tests.refills.conftest import CONTEXT, ask


def item_of(request, fhir_id="med-metformin"):
    return request.items.get(medication_request_id=fhir_id)


def test_a_physician_approves_and_the_ehr_write_is_queued(metformin_request, carol):
    item = services.refill_item_decide(
        actor=carol,
        item_id=item_of(metformin_request).pk,
        decision="approve",
        refills=2,
        days_supply=90,
        context=CONTEXT,
    )
    assert (item.status, item.refills, item.days_supply) == (Status.APPROVED, 2, 90)
    assert item.ehr_state == EhrState.WAITING  # never "sent" before the EHR has it
    assert not RefillRequest.objects.get(pk=metformin_request.pk).open
    (event,) = events(Action.REFILL_DECIDE)
    assert (event.actor_id, event.patient_id) == (carol.pk, metformin_request.patient_id)


def test_a_nurse_prepares_but_may_not_approve(metformin_request, nina):
    item = services.refill_item_review(actor=nina, item_id=item_of(metformin_request).pk)
    assert item.status == Status.IN_REVIEW
    with pytest.raises(PermissionDenied):
        services.refill_item_decide(
            actor=nina, item_id=item.pk, decision="approve", refills=1, days_supply=30
        )
    assert RefillItem.objects.get(pk=item.pk).status == Status.IN_REVIEW


def test_a_denial_needs_a_refusal_reason(metformin_request, carol):
    with pytest.raises(ValidationError):
        services.refill_item_decide(
            actor=carol, item_id=item_of(metformin_request).pk, decision="deny"
        )
    item = services.refill_item_decide(
        actor=carol,
        item_id=item_of(metformin_request).pk,
        decision="deny",
        reason_code="NEEDAPMT",
        reason_text="Blood test first",
    )
    assert item.status == Status.DENIED
    assert item.reason_label == "Patient needs appointment"


@pytest.mark.parametrize("cast", ["dave", "bill", "fran", "ada", "otto", "alice", "mallory"])
def test_only_the_care_team_may_decide(metformin_request, cast, request):
    outsider = request.getfixturevalue(cast)
    with pytest.raises((Http404, PermissionDenied)):
        services.refill_item_decide(
            actor=outsider, item_id=item_of(metformin_request).pk, decision="appointment"
        )
    assert RefillItem.objects.get().status == Status.REQUESTED


def test_a_high_risk_approval_asks_for_a_fresh_code(alice_medicines, alice, carol):
    item = item_of(ask(alice, "med-warfarin"), "med-warfarin")
    with pytest.raises(ValidationError):
        services.refill_item_decide(
            actor=carol, item_id=item.pk, decision="approve", refills=1, days_supply=30
        )
    with pytest.raises(ValidationError):
        services.refill_item_decide(
            actor=carol,
            item_id=item.pk,
            decision="approve",
            refills=1,
            days_supply=30,
            second_factor=services.SecondFactor("totp", "000000"),
        )
    done = services.refill_item_decide(
        actor=carol,
        item_id=item.pk,
        decision="approve",
        refills=1,
        days_supply=30,
        second_factor=services.SecondFactor("totp", totp_now(device_of(carol))),
    )
    assert done.status == Status.APPROVED


def test_it_cannot_be_decided_twice(metformin_request, carol):
    item = item_of(metformin_request)
    services.refill_item_decide(actor=carol, item_id=item.pk, decision="appointment")
    with pytest.raises(ValidationError):
        services.refill_item_decide(
            actor=carol, item_id=item.pk, decision="deny", reason_code="ONHOLD"
        )


def test_the_notice_names_no_medicine_pharmacy_or_decision(metformin_request, carol, alice):
    services.refill_item_decide(
        actor=carol, item_id=item_of(metformin_request).pk, decision="deny", reason_code="STOPMED"
    )
    tasks.send_refill_notice(patient_id=str(alice.patient_id))
    (message,) = mail.outbox
    text = (message.subject + message.body).lower()
    for secret in ("metformin", "corner", "pharmacy", "denied", "carol", "chen", "stopmed"):
        assert secret not in text
    assert "/patient/refills/" in message.body
