"""A refill decision as FHIR R4, written to the EHR (the EHR sends prescriptions to pharmacies).

Each decided item becomes a ``Task`` (code refill, ``focus`` the prescription asked
for, status and ``statusReason``), and an approval also a new ``MedicationRequest``
with ``priorPrescription``. Both have ids derived from the item (``cb-refill-<id>``)
and are PUT, so a write the job queue repeats lands on the same resources.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings

from portal.fhir.checks import smart_config
from portal.fhir.client import FhirClient, FhirConfig
from records.selectors import medication_request_resources
from refills.models import RefillItem, Status
from refills.vocabulary import ACT_REASON, REFUSAL_REASONS, TASK_CODE

WRITE_SCOPE = "system/Task.cu system/MedicationRequest.cu"

TASK_STATUS = {
    Status.APPROVED: "completed",
    Status.DENIED: "rejected",
    Status.NEEDS_APPOINTMENT: "on-hold",
}


def write_client() -> FhirClient:
    """A client with the write scopes and no more; the caller closes it."""
    return FhirClient(
        FhirConfig(base_url=settings.FHIR_BASE_URL, ca_bundle=settings.FHIR_CA_BUNDLE or None),
        smart=smart_config(settings.REFILLS_FHIR_SCOPE or WRITE_SCOPE),
    )


def task_id(item: RefillItem) -> str:
    return f"cb-refill-{item.pk}"


def prescription_id(item: RefillItem) -> str:
    return f"cb-refill-rx-{item.pk}"


def decision_resources(item: RefillItem) -> list[dict[str, Any]]:
    """The Task, and on approval the new MedicationRequest, for one decided item."""
    patient_ref = {"reference": f"Patient/{item.patient.fhir_id}"}
    prior = {"reference": f"MedicationRequest/{item.medication_request_id}"}
    decided = item.decided_at.isoformat() if item.decided_at else None
    by = (
        {"display": item.decided_by.display_name or item.decided_by.username}
        if item.decided_by
        else None
    )
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id(item),
        "status": TASK_STATUS[Status(item.status)],
        "intent": "order",
        "code": {
            "coding": [{"system": TASK_CODE, "code": "refill", "display": "Refill request"}],
            "text": "Renewal request" if item.renewal else "Refill request",
        },
        "focus": prior,
        "for": patient_ref,
        "authoredOn": item.created_at.isoformat(),
        "lastModified": decided,
        "requester": {"display": "Carebridge patient portal"},
    }
    if by:
        task["owner"] = by
    reason = _status_reason(item)
    if reason:
        task["statusReason"] = reason
    if item.status != Status.APPROVED:
        return [task]
    original = next(
        (
            r
            for r in medication_request_resources(patient=item.patient)
            if r.get("id") == item.medication_request_id
        ),
        {},
    )
    start = item.decided_at.date() if item.decided_at else None
    prescription: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": prescription_id(item),
        "status": "active",
        "intent": "order",
        "subject": patient_ref,
        "authoredOn": decided,
        "priorPrescription": prior,
        "dispenseRequest": {
            "numberOfRepeatsAllowed": item.refills or 0,
            "expectedSupplyDuration": {
                "value": item.days_supply,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
    }
    if start:
        prescription["dispenseRequest"]["validityPeriod"] = {
            "start": start.isoformat(),
            "end": (start + timedelta(days=365)).isoformat(),
        }
    for key in ("medicationCodeableConcept", "medicationReference", "dosageInstruction"):
        if original.get(key):
            prescription[key] = original[key]
    if (
        "medicationCodeableConcept" not in prescription
        and "medicationReference" not in prescription
    ):
        prescription["medicationCodeableConcept"] = {"text": item.medicine}
    if by:
        prescription["requester"] = by
    task["output"] = [
        {
            "type": {"text": "New prescription"},
            "valueReference": {"reference": f"MedicationRequest/{prescription_id(item)}"},
        }
    ]
    return [prescription, task]


def _status_reason(item: RefillItem) -> dict[str, Any] | None:
    if item.status == Status.DENIED and item.reason_code:
        return {
            "coding": [
                {
                    "system": ACT_REASON,
                    "code": item.reason_code,
                    "display": REFUSAL_REASONS.get(item.reason_code, ""),
                }
            ],
            **({"text": item.reason_text} if item.reason_text else {}),
        }
    if item.status == Status.NEEDS_APPOINTMENT:
        return {
            "coding": [
                {"system": ACT_REASON, "code": "NEEDAPMT", "display": REFUSAL_REASONS["NEEDAPMT"]}
            ],
            **({"text": item.reason_text} if item.reason_text else {}),
        }
    if item.reason_text:
        return {"text": item.reason_text}
    return None
