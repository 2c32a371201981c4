"""Messaging's cast: Carol (physician) and Nina (nurse) treat Alice; nobody treats Mallory."""

import pytest

from audit.context import AuditContext
from messaging import services
from messaging.models import Topic
from patients.models import CareTeam

CONTEXT = AuditContext(request_id="req-1", client_ip="192.0.2.7")
CANARY = "CANARY-7f3a9c the rash on my left elbow"


@pytest.fixture
def ward(alice, carol, nina):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    return team


def start(
    patient_user, topic=Topic.MEDICAL, subject="Question about my rash", body=CANARY, files=()
):
    return services.thread_start(
        actor=patient_user, topic=topic, subject=subject, body=body, files=files, context=CONTEXT
    )


@pytest.fixture
def medical_thread(ward, alice):
    return start(alice)


@pytest.fixture
def billing_thread(ward, alice):
    return start(alice, topic=Topic.BILLING, subject="My invoice", body="Why two charges?")
