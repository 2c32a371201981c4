"""The safe path for messages: every selector that returns a patient's messages checks who
asks and records exactly one event; outsiders get 404 and leave no trace.

Patient-id selectors are found by their signature, as in tests/records.
"""

import ast
import datetime as dt
import inspect
import uuid
from pathlib import Path

import pytest
from django.http import Http404
from django.utils import timezone

from audit.actions import Action, Severity
from messaging import selectors
from patients.models import BreakGlassGrant
from tests.audit_helpers import events
from tests.messaging.conftest import CONTEXT

PATIENT_SELECTORS = sorted(
    name
    for name, function in inspect.getmembers(selectors, inspect.isfunction)
    if function.__module__ == selectors.__name__
    and not name.startswith("_")
    and {"actor", "patient_id"} <= set(inspect.signature(function).parameters)
)
OUTSIDERS = ["mallory", "dave", "bill", "fran", "ada", "otto"]


def test_it_finds_the_selectors_it_proves():
    assert PATIENT_SELECTORS == ["inbox_page", "sent_page"]


@pytest.mark.parametrize("name", PATIENT_SELECTORS)
@pytest.mark.parametrize("cast", OUTSIDERS)
def test_it_refuses_whoever_may_not_see_the_patient_and_records_nothing(
    medical_thread, alice, name, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())
    with pytest.raises(Http404):
        getattr(selectors, name)(actor=outsider, patient_id=alice.patient_id, context=CONTEXT)
    assert events()[before:] == []


@pytest.mark.parametrize("name", PATIENT_SELECTORS)
@pytest.mark.parametrize("cast", ["alice", "carol"])
def test_it_records_exactly_one_event_naming_the_patient(
    medical_thread, alice, name, cast, request
):
    reader = request.getfixturevalue(cast)
    before = len(events())
    getattr(selectors, name)(actor=reader, patient_id=alice.patient_id, context=CONTEXT)
    (event,) = events()[before:]
    assert (event.action, event.actor_id, event.patient_id, event.severity) == (
        Action.MESSAGE_LIST,
        reader.pk,
        alice.patient_id,
        Severity.INFO,
    )
    assert (event.request_id, event.client_ip) == ("req-1", "192.0.2.7")


@pytest.mark.parametrize("cast", OUTSIDERS)
def test_it_refuses_a_thread_to_whoever_may_not_see_it_and_records_nothing(
    medical_thread, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())
    with pytest.raises(Http404):
        selectors.thread_page(actor=outsider, thread_id=medical_thread.pk, context=CONTEXT)
    assert events()[before:] == []


@pytest.mark.parametrize("cast", ["alice", "carol", "nina"])
def test_it_records_one_read_event_per_thread_view(medical_thread, alice, cast, request):
    reader = request.getfixturevalue(cast)
    before = len(events())
    selectors.thread_page(actor=reader, thread_id=medical_thread.pk, context=CONTEXT)
    (event,) = events()[before:]
    assert (event.action, event.actor_id, event.patient_id, event.object_id) == (
        Action.MESSAGE_READ,
        reader.pk,
        alice.patient_id,
        str(medical_thread.pk),
    )


def test_it_answers_a_missing_thread_like_someone_elses(medical_thread, carol):
    with pytest.raises(Http404):
        selectors.thread_page(actor=carol, thread_id=uuid.uuid4(), context=CONTEXT)
    with pytest.raises(Http404):
        selectors.attachment_file(actor=carol, attachment_id=uuid.uuid4(), context=CONTEXT)


def test_it_flags_a_thread_read_through_break_glass_as_high_severity(medical_thread, dave):
    BreakGlassGrant.objects.create(
        clinician=dave,
        patient=medical_thread.patient,
        reason="Unconscious in ED",
        expires_at=timezone.now() + dt.timedelta(minutes=60),
    )
    before = len(events())
    selectors.thread_page(actor=dave, thread_id=medical_thread.pk, context=CONTEXT)
    (event,) = events()[before:]
    assert (event.actor_id, event.severity) == (dave.pk, Severity.HIGH)


def test_it_keeps_front_desk_and_billing_out_of_clinical_threads(medical_thread, bill, fran):
    for staff in (bill, fran):
        with pytest.raises(Http404):
            selectors.thread_page(actor=staff, thread_id=medical_thread.pk, context=CONTEXT)
        assert selectors.pool_page(actor=staff, context=CONTEXT).threads == []


def test_it_shows_billing_only_billing_threads(medical_thread, billing_thread, bill, carol, fran):
    assert [t.id for t in selectors.pool_page(actor=bill, context=CONTEXT).threads] == [
        billing_thread.pk
    ]
    assert [t.id for t in selectors.pool_page(actor=carol, context=CONTEXT).threads] == [
        medical_thread.pk
    ]
    with pytest.raises(Http404):
        selectors.thread_page(actor=carol, thread_id=billing_thread.pk, context=CONTEXT)
    with pytest.raises(Http404):
        selectors.thread_page(actor=fran, thread_id=billing_thread.pk, context=CONTEXT)


def test_it_leaves_access_checks_and_audit_rows_out_of_the_views():
    tree = ast.parse(Path(selectors.__file__).with_name("views.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    for forbidden in (
        "record",
        "access_patient",
        "via_break_glass",
        "clinical_patients",
        "thread_for",
        "visible_threads",
        "objects",
    ):
        assert forbidden not in names | imported, forbidden
