"""The waitlist: a freed slot is offered to patients waiting for an earlier one.

Called by the services inside the transaction that freed the slot (a cancellation, or
the old half of a reschedule), so offers exist exactly when the slot is free. Who gets
an offer: active entries whose booked appointment is of the same visit type with the
same clinician and starts later than the freed slot. Each offer is mailed (no PHI, a
link into the portal); the first to accept wins through the booking service's lock and
the exclusion constraint, and the others then see "no longer available".
"""

from datetime import datetime, timedelta

from django.utils import timezone

from appointments.models import Appointment, WaitlistEntry, WaitlistOffer
from appointments.tasks import send_offer
from audit.actions import Action
from audit.services import record


def offer_freed_slot(freed: Appointment, *, now: datetime | None = None) -> list[WaitlistOffer]:
    now = now or timezone.now()
    visit_type = freed.visit_type
    # Patients book only after the notice: a slot freed too late is offered to no one.
    if freed.starts_at < now + timedelta(minutes=visit_type.min_notice_minutes):
        return []
    entries = (
        WaitlistEntry.objects.filter(
            active=True,
            appointment__status=Appointment.Status.BOOKED,
            appointment__visit_type=visit_type,
            appointment__clinician_id=freed.clinician_id,
            appointment__starts_at__gt=freed.starts_at,
        )
        .exclude(patient_id=freed.patient_id)
        .select_related("appointment")
    )
    offers = []
    for entry in entries:
        offer, created = WaitlistOffer.objects.get_or_create(
            entry=entry,
            clinician_id=freed.clinician_id,
            starts_at=freed.starts_at,
            defaults={"location_id": freed.location_id, "visit_type": visit_type},
        )
        if created:
            offers.append(offer)
            record(
                action=Action.WAITLIST_OFFER,
                patient_id=entry.patient_id,
                object_type="WaitlistOffer",
                object_id=offer.pk,
            )
            send_offer.defer(offer_id=str(offer.pk))
    return offers
