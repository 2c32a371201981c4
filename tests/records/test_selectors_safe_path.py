"""The safe path is the only path: every selector that returns a patient's data checks
who asks and records that they looked, whoever calls it.

The selectors are found by their signature (a public function of records.selectors
that takes ``actor`` and ``patient_id``), so a new one is in these tests the day it is
written; a public selector that takes a Patient object instead fails the last test.
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
from audit.context import AuditContext
from patients.models import BreakGlassGrant, CareTeam
from records import selectors
from records.presenters import trend_key
from tests.audit_helpers import events
from tests.records import builders

# Values for a selector's other required arguments, by name. A new selector with a
# required argument not named here fails below until it is given a sample value.
SAMPLE_ARGUMENTS = {"key": trend_key({"system": "http://loinc.org", "code": "4548-4"})}
AUDITED = {Action.RECORD_VIEW, Action.RECORD_DOWNLOAD}
# Public functions that take a Patient object, reviewed: last_synced returns sync
# metadata (records.sync needs it without an actor); medication_request_resources
# returns prescriptions to refills, whose selectors and services resolve the patient
# and record their own event first (tests/refills/test_selectors_safe_path.py);
# encounter_resources gives the assistant's check-in scheduler (a system job, no user)
# the Encounters a sync just wrote (tests/assistant/test_checkins.py).
TAKES_A_PATIENT = {"encounter_resources", "last_synced", "medication_request_resources"}


def _public_functions():
    return [
        (name, function)
        for name, function in inspect.getmembers(selectors, inspect.isfunction)
        if function.__module__ == selectors.__name__ and not name.startswith("_")
    ]


def _patient_selectors() -> list[str]:
    return sorted(
        name
        for name, function in _public_functions()
        if {"actor", "patient_id"} <= set(inspect.signature(function).parameters)
    )


SELECTORS = _patient_selectors()


def call(name: str, actor, patient_id):
    """Call the selector as a view would, and use what it returns (a generator too)."""
    function = getattr(selectors, name)
    arguments = {"actor": actor, "patient_id": patient_id}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in arguments or parameter.default is not inspect.Parameter.empty:
            continue
        assert parameter.name in SAMPLE_ARGUMENTS, f"{name}: give {parameter.name} a sample value"
        arguments[parameter.name] = SAMPLE_ARGUMENTS[parameter.name]
    if "context" in inspect.signature(function).parameters:
        arguments["context"] = AuditContext(request_id="req-1", client_ip="192.0.2.7")
    result = function(**arguments)
    if inspect.isgenerator(result):
        result = list(result)
    return result


@pytest.fixture
def record(alice):
    builders.seed(alice.patient)
    return alice.patient


@pytest.fixture
def ward(alice, carol):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    return team


def test_it_finds_the_selectors_it_proves():
    assert {"summary_page", "labs_page", "trend_page", "chart_page", "full_record"} <= set(
        SELECTORS
    )
    assert "bundle_resources" in SELECTORS
    assert len(SELECTORS) >= 11


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("cast", ["mallory", "dave", "bill", "fran", "ada", "otto"])
def test_it_refuses_whoever_may_not_see_the_patient_and_records_nothing(
    ward, record, name, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())

    with pytest.raises(Http404):
        call(name, outsider, record.pk)

    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
def test_it_answers_a_missing_patient_like_someone_elses(ward, record, carol, name):
    before = len(events())

    with pytest.raises(Http404):
        call(name, carol, uuid.uuid4())

    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("cast", ["alice", "carol"])
def test_it_records_exactly_one_event_naming_the_patient(ward, record, name, cast, request):
    reader = request.getfixturevalue(cast)
    before = len(events())

    call(name, reader, record.pk)

    new = events()[before:]
    assert len(new) == 1, [e.action for e in new]
    (event,) = new
    assert event.action in AUDITED
    assert (event.actor_id, event.patient_id, event.severity) == (
        reader.pk,
        record.pk,
        Severity.INFO,
    )
    assert (event.request_id, event.client_ip) == ("req-1", "192.0.2.7")


@pytest.mark.parametrize("name", SELECTORS)
def test_it_flags_a_view_through_break_glass_as_high_severity(ward, record, dave, name):
    BreakGlassGrant.objects.create(
        clinician=dave,
        patient=record,
        reason="Unconscious in ED",
        expires_at=timezone.now() + dt.timedelta(minutes=60),
    )
    before = len(events())

    call(name, dave, record.pk)

    (event,) = events()[before:]
    assert (event.actor_id, event.patient_id, event.severity) == (dave.pk, record.pk, Severity.HIGH)


def test_it_keeps_every_other_public_selector_away_from_patient_objects():
    takes_a_patient = {
        name
        for name, function in _public_functions()
        if "patient" in inspect.signature(function).parameters
    }
    assert takes_a_patient == TAKES_A_PATIENT


def test_it_leaves_access_checks_and_audit_rows_out_of_the_views():
    tree = ast.parse(Path(selectors.__file__).with_name("views.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    for forbidden in ("record", "access_patient", "via_break_glass", "clinical_patients"):
        assert forbidden not in names | imported, forbidden
