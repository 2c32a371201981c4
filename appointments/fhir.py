"""Appointments in their FHIR R4 shape (Schedule, Slot, Appointment), for the patient's
record download.

Below the access check: records.selectors.bundle_resources resolves the patient and
records the download before it asks for these. The patient's own reason for a visit
is in the download (it is their record); ids are the portal's own.
"""

from collections.abc import Iterator
from typing import Any

from appointments.models import Appointment
from patients.models import Patient
from portal.crypto.selectors import preload_keys

FHIR_STATUS = {
    Appointment.Status.BOOKED: "booked",
    Appointment.Status.ARRIVED: "arrived",
    Appointment.Status.NO_SHOW: "noshow",
    Appointment.Status.CANCELLED: "cancelled",
    Appointment.Status.RESCHEDULED: "cancelled",
}


def _instant(value: Any) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def appointment_resources(patient: Patient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, id, resource) of the patient's appointments, their slots and schedules."""
    preload_keys([patient.pk])
    rows = (
        Appointment.objects.filter(patient=patient)
        .select_related("clinician", "location", "visit_type")
        .order_by("starts_at")
    )
    subject = f"Patient/{patient.fhir_id or patient.pk}"
    schedules: set[str] = set()
    for a in rows:
        clinician = a.clinician.display_name or a.clinician.username
        schedule_id = f"{a.clinician_id}-{a.location_id}"
        if schedule_id not in schedules:
            schedules.add(schedule_id)
            yield (
                "Schedule",
                schedule_id,
                {
                    "resourceType": "Schedule",
                    "id": schedule_id,
                    "active": True,
                    "actor": [
                        {"display": clinician},
                        {"reference": f"Location/{a.location_id}", "display": a.location.name},
                    ],
                },
            )
        slot_id = f"{a.pk}-slot"
        yield (
            "Slot",
            slot_id,
            {
                "resourceType": "Slot",
                "id": slot_id,
                "schedule": {"reference": f"Schedule/{schedule_id}"},
                "status": "busy" if a.status in Appointment.ACTIVE else "free",
                "start": _instant(a.starts_at),
                "end": _instant(a.ends_at),
            },
        )
        resource: dict[str, Any] = {
            "resourceType": "Appointment",
            "id": str(a.pk),
            "status": FHIR_STATUS[Appointment.Status(a.status)],
            "serviceType": [{"text": a.visit_type.name}],
            "appointmentType": {"text": a.visit_type.get_mode_display()},
            "start": _instant(a.starts_at),
            "end": _instant(a.ends_at),
            "minutesDuration": a.visit_type.duration_minutes,
            "slot": [{"reference": f"Slot/{slot_id}"}],
            "created": _instant(a.created_at),
            "participant": [
                {"actor": {"reference": subject}, "status": "accepted"},
                {"actor": {"display": clinician}, "status": "accepted"},
                {
                    "actor": {"reference": f"Location/{a.location_id}", "display": a.location.name},
                    "status": "accepted",
                },
            ],
        }
        reason = a.reason
        if isinstance(reason, str) and reason:
            resource["reasonCode"] = [{"text": reason}]
        if (
            a.status not in Appointment.ACTIVE
            and isinstance(a.cancel_reason, str)
            and a.cancel_reason
        ):
            resource["cancelationReason"] = {"text": a.cancel_reason}
        yield "Appointment", str(a.pk), resource
