"""The demo clinic's schedule for `manage.py load_demo`: a location, visit types, weekly
hours for the demo clinicians over the next 90 days, and a few booked appointments.

Idempotent: set-up rows are found by name, hours by their fields, and bookings are
made only for a demo patient who has none upcoming.
"""

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from appointments import services
from appointments.models import Appointment, Location, VisitType, WeeklyTemplate
from appointments.slots import open_slots

VISIT_TYPES = [
    # name, minutes, mode, who may self-book, buffer
    ("Follow-up visit", 20, VisitType.Mode.IN_PERSON, VisitType.SelfBook.ESTABLISHED, 5),
    ("New patient visit", 40, VisitType.Mode.IN_PERSON, VisitType.SelfBook.ANY, 10),
    ("Video check-in", 15, VisitType.Mode.VIDEO, VisitType.SelfBook.ANY, 0),
]
# Clinician → (weekdays, start, end) per visit type name.
HOURS: dict[str, list[tuple[str, Iterable[int], dt.time, dt.time]]] = {
    "carol": [
        ("Follow-up visit", range(5), dt.time(9), dt.time(12)),
        ("New patient visit", [0, 2], dt.time(13), dt.time(16)),
        ("Video check-in", [1, 3], dt.time(13), dt.time(15)),
    ],
    "dave": [
        ("Follow-up visit", [0, 1, 3], dt.time(8), dt.time(11)),
        ("New patient visit", [1, 4], dt.time(13), dt.time(17)),
    ],
    "nina": [("Video check-in", range(5), dt.time(10), dt.time(12))],
}
BOOKINGS = {"alice": ("carol", "Follow-up visit", "Blood pressure follow-up")}


def demo_schedule_load() -> None:
    zone = settings.PORTAL_TIME_ZONE if settings.PORTAL_TIME_ZONE != "UTC" else "America/New_York"
    place, _ = Location.objects.get_or_create(
        name="Carebridge Demo Clinic",
        defaults={"address": "100 Example Avenue", "time_zone": zone},
    )
    kinds = {}
    for name, minutes, mode, self_book, buffer in VISIT_TYPES:
        kinds[name], _ = VisitType.objects.get_or_create(
            name=name,
            defaults={
                "duration_minutes": minutes,
                "mode": mode,
                "self_book": self_book,
                "buffer_minutes": buffer,
            },
        )
    for username, rows in HOURS.items():
        clinician = User.objects.get(username=username)
        for kind, days, start, end in rows:
            for day in days:
                WeeklyTemplate.objects.get_or_create(
                    clinician=clinician,
                    location=place,
                    visit_type=kinds[kind],
                    weekday=day,
                    start_time=start,
                    end_time=end,
                )
    now = timezone.now()
    for username, (clinician_name, kind, reason) in BOOKINGS.items():
        patient = User.objects.get(username=username)
        if patient.patient_id is None:
            continue
        if Appointment.objects.filter(
            patient_id=patient.patient_id, starts_at__gt=now, status=Appointment.Status.BOOKED
        ).exists():
            continue
        clinician = User.objects.get(username=clinician_name)
        # A week or more ahead, so the demo can cancel and move it online.
        slots = open_slots(
            visit_type=kinds[kind],
            earliest=now + dt.timedelta(days=7),
            latest=now + dt.timedelta(days=30),
            clinician_ids=[clinician.pk],
            limit=1,
        )
        for slot in slots:
            services.appointment_book(
                actor=patient,
                patient_id=patient.patient_id,
                choice=services.SlotChoice(
                    clinician.pk, slot.location.pk, slot.visit_type.pk, slot.starts_at
                ),
                reason=reason,
            )
