"""What the check-in tests share: a discharge Encounter, storing it, and a full set of answers."""

import datetime as dt
from typing import Any

from assistant import checkins
from assistant.models import CheckIn
from tests.records import builders
from tests.records import resources as r

UTC = dt.UTC
# Alice leaves hospital at 15:00 UTC on Friday 20 November 2026.
DISCHARGED = dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
AFTER = DISCHARGED + dt.timedelta(hours=3)


def stay(
    fhir_id: str = "enc-stay-1",
    *,
    klass: str = "IMP",
    status: str = "finished",
    end: str | None = "2026-11-20T15:00:00Z",
    updated: str = "2026-11-20T16:00:00Z",
    version: str = "1",
) -> dict[str, Any]:
    period = {"start": "2026-11-17T10:00:00Z"} | ({"end": end} if end else {})
    return {
        "resourceType": "Encounter",
        "id": fhir_id,
        "meta": {"versionId": version, "lastUpdated": updated},
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "type": [{"text": "Hospital admission for pneumonia CANARY"}],
        "subject": {"reference": f"Patient/{r.PATIENT_FHIR_ID}"},
        "period": period,
    }


def discharged(patient, *, at: dt.datetime = AFTER, **changes: Any) -> list[CheckIn]:
    """Store a discharge for the patient and schedule its check-ins as the sync would."""
    encounter = stay(**changes)
    builders.store(patient, "Encounter", [encounter])
    return checkins.checkins_schedule(
        patient_id=patient.pk, encounter_ids=[encounter["id"]], now=at
    )


def answers(**changes: str) -> dict[str, str]:
    """Answers without a red flag, a follow-up visit booked."""
    return {
        "feeling": "better",
        "chest_pain": "no",
        "breathing": "no",
        "fever": "no",
        "bleeding": "no",
        "confusion": "no",
        "medicines_obtained": "yes",
        "medicines_understood": "yes",
        "followup_booked": "yes",
        "anything_else": "",
        **changes,
    }
