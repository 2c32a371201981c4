"""The safe path for refills: every selector checks who asks and records exactly one event;
outsiders get 404 and leave no trace. Patient-id selectors are found by their signature."""

import datetime as dt
import inspect

import pytest
from django.http import Http404
from django.utils import timezone

from audit.actions import Action, Severity
from patients.models import BreakGlassGrant
from refills import selectors
from tests.audit_helpers import events
from tests.refills.conftest import CONTEXT

PATIENT_SELECTORS = sorted(
    name
    for name, function in inspect.getmembers(selectors, inspect.isfunction)
    if function.__module__ == selectors.__name__
    and not name.startswith("_")
    and {"actor", "patient_id"} <= set(inspect.signature(function).parameters)
)
OUTSIDERS = ["mallory", "dave", "bill", "fran", "ada", "otto"]


def test_it_finds_the_selectors_it_proves():
    assert PATIENT_SELECTORS == ["refills_page"]


@pytest.mark.parametrize("name", PATIENT_SELECTORS)
@pytest.mark.parametrize("cast", OUTSIDERS)
def test_it_refuses_whoever_may_not_see_the_patient_and_records_nothing(
    metformin_request, alice, name, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())
    with pytest.raises(Http404):
        getattr(selectors, name)(actor=outsider, patient_id=alice.patient_id, context=CONTEXT)
    assert events()[before:] == []


@pytest.mark.parametrize("name", PATIENT_SELECTORS)
@pytest.mark.parametrize("cast", ["alice", "carol", "nina"])
def test_it_records_exactly_one_event_naming_the_patient(
    metformin_request, alice, name, cast, request
):
    reader = request.getfixturevalue(cast)
    before = len(events())
    getattr(selectors, name)(actor=reader, patient_id=alice.patient_id, context=CONTEXT)
    (event,) = events()[before:]
    assert (event.action, event.actor_id, event.patient_id, event.severity) == (
        Action.REFILL_LIST,
        reader.pk,
        alice.patient_id,
        Severity.INFO,
    )
    assert (event.request_id, event.client_ip) == ("req-1", "192.0.2.7")


@pytest.mark.parametrize("cast", OUTSIDERS)
def test_it_refuses_a_request_to_whoever_may_not_see_it_and_records_nothing(
    metformin_request, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())
    with pytest.raises(Http404):
        selectors.refill_page(actor=outsider, request_id=metformin_request.pk, context=CONTEXT)
    assert events()[before:] == []


@pytest.mark.parametrize("cast", ["alice", "carol", "nina"])
def test_it_records_one_view_event_per_request_page(metformin_request, alice, cast, request):
    reader = request.getfixturevalue(cast)
    before = len(events())
    page = selectors.refill_page(actor=reader, request_id=metformin_request.pk, context=CONTEXT)
    (event,) = events()[before:]
    assert (event.action, event.patient_id, event.object_id) == (
        Action.REFILL_VIEW,
        alice.patient_id,
        str(metformin_request.pk),
    )
    # The patient's page never carries the staff-only parts.
    if cast == "alice":
        assert page.demographics is None
        assert page.history == []


def test_a_break_glass_view_is_high_severity(metformin_request, dave):
    BreakGlassGrant.objects.create(
        clinician=dave,
        patient=metformin_request.patient,
        reason="Covering",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    selectors.refill_page(actor=dave, request_id=metformin_request.pk, context=CONTEXT)
    assert events(Action.REFILL_VIEW)[-1].severity == Severity.HIGH


def test_the_queue_lists_care_team_requests_oldest_first_in_one_event(
    alice_medicines, alice, carol, dave
):
    from tests.refills.conftest import ask

    first = ask(alice, "med-metformin")
    ask(alice, "med-lisinopril")
    before = len(events())
    page = selectors.queue_page(actor=carol, context=CONTEXT)
    assert [r.item.medication_request_id for r in page.rows] == ["med-metformin", "med-lisinopril"]
    assert page.rows[0].item.request_id == first.pk
    (event,) = events()[before:]
    assert event.action == Action.REFILL_QUEUE
    assert selectors.queue_page(actor=dave, context=CONTEXT).rows == []


def test_the_queue_flags_requests_overdue_after_the_business_days(
    metformin_request, carol, settings, time_machine
):
    settings.MESSAGING_WORKING_DAYS = "1,2,3,4,5,6,7"
    assert not selectors.queue_page(actor=carol).rows[0].overdue
    time_machine.move_to(timezone.now() + dt.timedelta(days=4))
    assert selectors.queue_page(actor=carol).rows[0].overdue
