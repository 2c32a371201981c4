"""The safe path for appointments: every selector that returns a patient's appointments
checks who asks and records exactly one event, whoever calls it (found by signature)."""

import ast
import datetime as dt
import inspect
import uuid
from pathlib import Path

import pytest
from django.http import Http404
from django.utils import timezone

from appointments import selectors
from appointments.models import WaitlistEntry, WaitlistOffer
from appointments.services import SlotChoice, appointment_book
from audit.actions import Action, Severity
from audit.context import AuditContext
from patients.models import BreakGlassGrant
from tests.audit_helpers import events

AUDITED = {Action.RECORD_VIEW, Action.RECORD_DOWNLOAD, Action.APPOINTMENT_SEARCH}
TUESDAY_9 = dt.datetime(2026, 1, 6, 14, 0, tzinfo=dt.UTC)


def _patient_selectors() -> list[str]:
    return sorted(
        name
        for name, function in inspect.getmembers(selectors, inspect.isfunction)
        if function.__module__ == selectors.__name__
        and not name.startswith("_")
        and {"actor", "patient_id"} <= set(inspect.signature(function).parameters)
    )


SELECTORS = _patient_selectors()


@pytest.fixture
def booked(monday, clinic, carol, alice, ward):
    place, kind = clinic
    appointment = appointment_book(
        actor=alice,
        patient_id=alice.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, TUESDAY_9),
        reason="Knee pain",
    )
    entry = WaitlistEntry.objects.create(appointment=appointment, patient=alice.patient)
    offer = WaitlistOffer.objects.create(
        entry=entry,
        clinician=carol,
        location=place,
        visit_type=kind,
        starts_at=TUESDAY_9 - dt.timedelta(hours=1),
    )
    appointment.offer_id = offer.pk
    return appointment


def call(name, actor, patient_id, booked):
    function = getattr(selectors, name)
    samples = {
        "appointment_id": booked.pk,
        "visit_type_id": booked.visit_type_id,
        "offer_id": booked.offer_id,
    }
    arguments = {"actor": actor, "patient_id": patient_id}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in arguments or parameter.default is not inspect.Parameter.empty:
            continue
        assert parameter.name in samples, f"{name}: give {parameter.name} a sample value"
        arguments[parameter.name] = samples[parameter.name]
    arguments["context"] = AuditContext(request_id="req-1", client_ip="192.0.2.7")
    return function(**arguments)


def test_it_finds_the_selectors_it_proves():
    assert {
        "appointments_page",
        "appointment_page",
        "appointment_calendar",
        "slot_search",
        "offer_page",
    } <= set(SELECTORS)


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("cast", ["mallory", "dave", "bill", "ada", "otto"])
def test_it_refuses_whoever_may_not_see_the_patient_and_records_nothing(
    booked, alice, name, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())
    with pytest.raises(Http404):
        call(name, outsider, alice.patient_id, booked)
    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
def test_it_answers_a_missing_patient_like_someone_elses(booked, fran, name):
    before = len(events())
    with pytest.raises(Http404):
        call(name, fran, uuid.uuid4(), booked)
    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("cast", ["alice", "carol", "fran"])
def test_it_records_exactly_one_event_naming_the_patient(booked, alice, name, cast, request):
    reader = request.getfixturevalue(cast)
    before = len(events())
    call(name, reader, alice.patient_id, booked)
    (event,) = events()[before:]
    assert event.action in AUDITED
    assert (event.actor_id, event.patient_id, event.severity) == (
        reader.pk,
        alice.patient_id,
        Severity.INFO,
    )
    assert (event.request_id, event.client_ip) == ("req-1", "192.0.2.7")


@pytest.mark.parametrize("name", SELECTORS)
def test_it_flags_a_view_through_break_glass_as_high_severity(booked, alice, dave, name):
    BreakGlassGrant.objects.create(
        clinician=dave,
        patient=alice.patient,
        reason="Unconscious in ED",
        expires_at=timezone.now() + dt.timedelta(minutes=60),
    )
    before = len(events())
    call(name, dave, alice.patient_id, booked)
    (event,) = events()[before:]
    assert event.severity == Severity.HIGH


def test_it_keeps_the_reason_from_the_front_desk(booked, alice, carol, fran):
    assert (
        selectors.appointment_page(
            actor=alice, patient_id=alice.patient_id, appointment_id=booked.pk
        ).reason
        == "Knee pain"
    )
    assert (
        selectors.appointment_page(
            actor=carol, patient_id=alice.patient_id, appointment_id=booked.pk
        ).reason
        == "Knee pain"
    )
    assert (
        selectors.appointment_page(
            actor=fran, patient_id=alice.patient_id, appointment_id=booked.pk
        ).reason
        is None
    )
    (listed,) = selectors.schedule_page(actor=fran, first_day=dt.date(2026, 1, 6)).appointments
    assert listed.reason is None


def test_it_shows_a_clinician_only_their_own_schedule_and_records_each_patient(
    booked, alice, carol, dave
):
    before = len(events())
    (mine,) = selectors.schedule_page(actor=carol, first_day=dt.date(2026, 1, 6)).appointments
    assert mine.reason == "Knee pain"
    (event,) = events()[before:]
    assert (event.action, event.patient_id) == (Action.SCHEDULE_VIEW, alice.patient_id)
    # Dave asks for Carol's schedule: he gets his own, empty.
    page = selectors.schedule_page(actor=dave, first_day=dt.date(2026, 1, 6), clinician_id=carol.pk)
    assert page.appointments == []


def test_it_leaves_access_checks_and_audit_rows_out_of_the_views():
    tree = ast.parse(Path(selectors.__file__).with_name("views.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    for forbidden in (
        "record",
        "access_patient",
        "access_patient_for_scheduling",
        "clinical_patients",
        "objects",
        "save",
    ):
        assert forbidden not in names | imported, forbidden
