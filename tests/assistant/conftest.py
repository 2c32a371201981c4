"""The assistant's cast: Carol (physician) and Nina (nurse) treat Alice on Ward 3; Dave
treats nobody; Mallory is another patient nobody here treats."""

import datetime as dt

import pytest
from django.utils import timezone

from assistant.lookups import Who
from assistant.models import Conversation
from assistant.nlu import Understanding
from audit.context import AuditContext
from patients.models import CareTeam, PatientDemographics
from portal.access import clinic_today
from refills.models import Pharmacy, Prescriber
from tests.appointments import builders
from tests.appointments.builders import NEW_YORK
from tests.refills.conftest import (
    ALICE_FHIR,
    ALICE_MEDICINES,
    MALLORY_FHIR,
    prescription,
    store,
)

CONTEXT = AuditContext(request_id="req-assistant-1", client_ip="192.0.2.9")


@pytest.fixture
def ward(alice, carol, nina):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    PatientDemographics.objects.create(
        patient=alice.patient, given_name="Alice", family_name="Anders"
    )
    return team


@pytest.fixture
def clinic_zone(settings):
    """The chat's tests run in a clinic in New York (the check-ins' keep the default)."""
    settings.PORTAL_TIME_ZONE = NEW_YORK


@pytest.fixture
def clinic(db, carol, dave):
    """Carol: follow-ups weekdays 09:00-12:00, new-patient visits Tuesdays 13:00-16:00;
    Dave: follow-ups on Wednesdays 14:00-16:00. New York time, 30-minute visits."""
    place = builders.location()
    follow_up = builders.visit_type("Follow-up visit")
    new_patient = builders.visit_type("New patient visit")
    builders.weekdays(carol, place, follow_up)
    builders.weekdays(carol, place, new_patient, start=dt.time(13), end=dt.time(16), days=[1])
    builders.weekdays(dave, place, follow_up, start=dt.time(14), end=dt.time(16), days=[2])
    return place, follow_up


@pytest.fixture
def pharmacy(db):
    return Pharmacy.objects.create(
        name="Corner Pharmacy", address="1 Main St", phone="555-0100", ncpdp_id="1234567"
    )


@pytest.fixture
def alice_medicines(ward, alice, carol, pharmacy):
    store(alice.patient, ALICE_FHIR, ALICE_MEDICINES)
    Prescriber.objects.create(user=carol, ehr_requester="Dr Carol Chen")


@pytest.fixture
def mallory_medicines(mallory):
    store(
        mallory.patient,
        MALLORY_FHIR,
        [
            prescription(
                "med-mallory-1", rxnorm="6809", name="Metformin 500 mg", patient=MALLORY_FHIR
            )
        ],
    )


def next_weekday(weekday: int, *, at_least: int = 3) -> dt.date:
    """The first such weekday (Monday 0) at least ``at_least`` days after today, clinic time."""
    day = clinic_today() + dt.timedelta(days=at_least)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return day


def who(actor, patient=None) -> Who:
    return Who(actor=actor, patient=patient or actor.patient, context=CONTEXT)


def heard(intent: str, red_flag=None, **slots: str) -> Understanding:
    return Understanding(intent=intent, slots=slots, red_flag=red_flag)


def conversation_with(actor, state, patient=None) -> Conversation:
    """An open conversation in this state, as the assistant left it (test set-up)."""
    now = timezone.now()
    return Conversation.objects.create(
        patient=patient or actor.patient,
        started_by=actor,
        state=state,
        created_at=now,
        updated_at=now,
    )
