"""Writes of refill requests: each takes the actor and the audit context (never the request),
finds the patient or request through the access helpers, changes state and records its
audit event in the same transaction, and queues the patient's notice (no PHI) and the
EHR write-back there too.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.emergency import fresh_second_factor
from accounts.models import User
from audit.actions import Action, Outcome, Severity
from audit.context import AuditContext
from audit.services import record
from messaging.escalation import stand_in
from patients.models import Patient
from portal.access import CLINICAL_ROLES, Role, access_patient, proxy_grant, via_break_glass
from records.selectors import medication_request_resources
from refills import tasks
from refills.models import (
    OPEN_STATUSES,
    EhrState,
    Pharmacy,
    PreferredPharmacy,
    Prescriber,
    RefillEvent,
    RefillItem,
    RefillRequest,
    Status,
)
from refills.rules import ClinicRules, Offer
from refills.scope import item_for, may_request_for, on_care_team
from refills.selectors import medicine_eligibility
from refills.vocabulary import REFUSAL_REASONS

NOT_REQUESTABLE = "One of the medicines cannot be requested online; nothing was sent."
ALREADY_OPEN = "You have already asked for one of these medicines; nothing new was sent."


class Decision:
    APPROVE = "approve"
    DENY = "deny"
    APPOINTMENT = "appointment"

    STATUS = {
        APPROVE: Status.APPROVED,
        DENY: Status.DENIED,
        APPOINTMENT: Status.NEEDS_APPOINTMENT,
    }


@dataclass(frozen=True)
class SecondFactor:
    method: str
    token: str


def refill_request_create(
    *,
    actor: User,
    patient_id: uuid.UUID,
    medication_request_ids: Sequence[str],
    pharmacy_id: int,
    comment: str,
    submit_token: uuid.UUID,
    context: AuditContext | None = None,
) -> RefillRequest:
    """Ask for refills (or renewals) of one or several of the patient's prescriptions.

    Each id must be one of the patient's active prescriptions that may be asked for
    now (refills/rules.py); anything else (a controlled substance, another patient's
    id, a duplicate, a made-up id) refuses the whole request and writes nothing but the
    refusal's audit event. A replayed form (same ``submit_token``) returns the request
    it made the first time.
    """
    patient = access_patient(actor=actor, patient_id=patient_id)
    if not may_request_for(actor, patient.pk):
        raise PermissionDenied
    replayed = RefillRequest.objects.filter(patient=patient, submit_token=submit_token).first()
    if replayed is not None:
        return replayed
    wanted = list(dict.fromkeys(medication_request_ids))
    proxy = proxy_grant(actor=actor, patient_id=patient.pk) is not None
    offers = {
        e.medication_request_id: e for e in medicine_eligibility(patient=patient, proxy=proxy)
    }
    if not wanted or any(offers.get(i) is None or not offers[i].offer for i in wanted):
        _refused(actor, patient, context)
        raise ValidationError(NOT_REQUESTABLE)
    pharmacy = Pharmacy.objects.filter(pk=pharmacy_id, active=True).first()
    if pharmacy is None:
        raise ValidationError("Choose a pharmacy from the list.")
    now = timezone.now()
    try:
        with transaction.atomic():
            request = RefillRequest(
                patient=patient,
                requested_by=actor,
                pharmacy=pharmacy,
                comment=comment.strip(),
                created_at=now,
                submit_token=submit_token,
                assigned_to=_route(patient, [offers[i].medication_request_id for i in wanted]),
            )
            request.full_clean()
            request.save()
            for fhir_id in wanted:
                offer = offers[fhir_id]
                RefillItem.objects.create(
                    request=request,
                    patient=patient,
                    medication_request_id=fhir_id,
                    medicine=offer.medicine,
                    rxnorm=offer.rxnorm,
                    renewal=offer.offer == Offer.RENEWAL,
                    repeats_left=offer.repeats_left,
                    created_at=now,
                )
            RefillEvent.objects.create(
                request=request, status=Status.REQUESTED, at=now, actor=actor
            )
            PreferredPharmacy.objects.update_or_create(
                patient=patient, defaults={"pharmacy": pharmacy}
            )
            record(
                action=Action.REFILL_REQUEST,
                actor=actor,
                context=context,
                patient_id=patient.pk,
                object_type="RefillRequest",
                object_id=request.pk,
            )
            tasks.notify_patient_later(patient_id=patient.pk)
    except IntegrityError:
        # A parallel submit of the same form, or of the same medicine, got there first.
        replayed = RefillRequest.objects.filter(patient=patient, submit_token=submit_token).first()
        if replayed is not None:
            return replayed
        raise ValidationError(ALREADY_OPEN) from None
    return request


def refill_item_review(
    *,
    actor: User,
    item_id: uuid.UUID,
    request_id: uuid.UUID | None = None,
    context: AuditContext | None = None,
) -> RefillItem:
    """A nurse or physician takes a requested medicine into review (prepares it)."""
    with transaction.atomic():
        item = item_for(actor=actor, item_id=item_id, request_id=request_id, lock=True)
        if item.status != Status.REQUESTED:
            return item
        now = timezone.now()
        item.status = Status.IN_REVIEW
        item.save(update_fields=["status"])
        request = item.request
        if request.assigned_to_id is None:
            request.assigned_to = actor
            request.save(update_fields=["assigned_to"])
        RefillEvent.objects.create(
            request=request, item=item, status=Status.IN_REVIEW, at=now, actor=actor
        )
        _recorded(Action.REFILL_REVIEW, actor, item, context)
        tasks.notify_patient_later(patient_id=item.patient_id)
    return item


def refill_item_decide(
    *,
    actor: User,
    item_id: uuid.UUID,
    decision: str,
    request_id: uuid.UUID | None = None,
    refills: int | None = None,
    days_supply: int | None = None,
    reason_code: str = "",
    reason_text: str = "",
    second_factor: SecondFactor | None = None,
    context: AuditContext | None = None,
) -> RefillItem:
    """Approve (physicians only), deny with a reason, or ask for an appointment.

    The decision is queued to the EHR in the same transaction (refills/tasks.py):
    the item shows "waiting for the EHR" until the write succeeds.
    """
    if decision not in Decision.STATUS:
        raise ValidationError("Choose approve, deny or needs an appointment.")
    if decision == Decision.APPROVE and actor.role != Role.PHYSICIAN:
        raise PermissionDenied("Only prescribers approve.")
    if decision == Decision.APPROVE and not (refills is not None and days_supply):
        raise ValidationError("Give the number of refills and the days' supply.")
    if decision == Decision.DENY and reason_code not in REFUSAL_REASONS:
        raise ValidationError("Choose a reason for the denial.")
    with transaction.atomic():
        item = item_for(actor=actor, item_id=item_id, request_id=request_id, lock=True)
        if item.status not in OPEN_STATUSES:
            raise ValidationError("This medicine has been decided already.")
        if decision == Decision.APPROVE and not _high_risk_confirmed(actor, item, second_factor):
            raise ValidationError(
                "This medicine is on the clinic's high-risk list: enter a fresh code "
                "from your authenticator to approve it."
            )
        now = timezone.now()
        item.status = Decision.STATUS[decision]
        item.decided_at, item.decided_by = now, actor
        item.refills = refills if decision == Decision.APPROVE else None
        item.days_supply = days_supply if decision == Decision.APPROVE else None
        item.reason_code = reason_code if decision == Decision.DENY else ""
        item.reason_text = reason_text.strip()
        item.ehr_state = EhrState.WAITING
        item.save()
        request = item.request
        if not request.items.filter(status__in=OPEN_STATUSES).exists():
            request.open = False
            request.save(update_fields=["open"])
        RefillEvent.objects.create(
            request=request, item=item, status=item.status, at=now, actor=actor
        )
        _recorded(Action.REFILL_DECIDE, actor, item, context)
        tasks.write_decision_later(item_id=item.pk)
        tasks.notify_patient_later(patient_id=item.patient_id)
    return item


def _high_risk_confirmed(actor: User, item: RefillItem, second_factor: SecondFactor | None) -> bool:
    """Not on the high-risk list, or a fresh second-factor code came with the approval."""
    if item.rxnorm not in ClinicRules.load().high_risk:
        return True
    return second_factor is not None and fresh_second_factor(
        user=actor, method=second_factor.method, token=second_factor.token
    )


def _route(patient: Patient, medication_request_ids: list[str]) -> User | None:
    """The prescriber when they are on the patient's care team (or their out-of-office
    delegate, messaging's mechanism), else None: the care team's clinical pool."""
    wanted = set(medication_request_ids)
    requesters = {
        _requester_key(r)
        for r in medication_request_resources(patient=patient)
        if r.get("id") in wanted
    }
    if len(requesters) != 1:
        return None
    link = Prescriber.objects.filter(ehr_requester=requesters.pop()).select_related("user").first()
    if link is None or link.user.role not in CLINICAL_ROLES:
        return None
    return stand_in(link.user, may_hold=lambda person: on_care_team(person, patient.pk))


def _requester_key(resource: dict) -> str:
    requester = resource.get("requester") or {}
    return str(requester.get("reference") or requester.get("display") or "")


def _recorded(action: Action, actor: User, item: RefillItem, context: AuditContext | None) -> None:
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=item.patient_id,
        object_type="RefillItem",
        object_id=item.pk,
        severity=Severity.HIGH
        if via_break_glass(actor=actor, patient=item.patient)
        else Severity.INFO,
    )


def _refused(actor: User, patient: Patient, context: AuditContext | None) -> None:
    record(
        action=Action.REFILL_REFUSED,
        outcome=Outcome.DENIED,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="RefillRequest",
    )
