"""The safe path for bills: every selector that returns a patient's bills checks who asks
and records exactly one event, whoever calls it (found by signature)."""

import inspect
import uuid

import pytest
from django.db import transaction
from django.http import Http404

from audit.actions import Action, Severity
from audit.context import AuditContext
from billing import selectors
from billing.models import LedgerEntry
from billing.services import ledger_post
from patients.models import ProxyGrant
from tests.audit_helpers import events

AUDITED = {Action.BILL_VIEW, Action.RECORD_DOWNLOAD}


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
def paid(statement):
    with transaction.atomic():
        return ledger_post(
            statement=statement, kind=LedgerEntry.Kind.PAYMENT, amount=-1000, stripe_id="pi_x"
        )


def call(name, actor, patient_id, statement, paid):
    function = getattr(selectors, name)
    samples = {"statement_id": statement.pk, "entry_id": paid.pk}
    arguments = {"actor": actor, "patient_id": patient_id}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in arguments or parameter.default is not inspect.Parameter.empty:
            continue
        assert parameter.name in samples, f"{name}: give {parameter.name} a sample value"
        arguments[parameter.name] = samples[parameter.name]
    arguments["context"] = AuditContext(request_id="req-1", client_ip="192.0.2.7")
    return function(**arguments)


def test_it_finds_the_selectors_it_proves():
    assert {"balance_due", "statements_page", "statement_page", "receipt_page"} <= set(SELECTORS)


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("cast", ["mallory", "carol", "nina", "fran", "ada", "otto", "greta"])
def test_it_refuses_whoever_may_not_see_the_bills_and_records_nothing(
    statement, paid, alice, name, cast, request
):
    outsider = request.getfixturevalue(cast)
    before = len(events())
    with pytest.raises(Http404):
        call(name, outsider, alice.patient_id, statement, paid)
    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
def test_it_answers_a_missing_patient_like_someone_elses(statement, paid, bill, name):
    before = len(events())
    with pytest.raises(Http404):
        call(name, bill, uuid.uuid4(), statement, paid)
    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
def test_it_keeps_bills_from_a_limited_proxy_who_is_not_the_guarantor(
    statement, paid, alice, greta, grant_to_greta, name
):
    grant_to_greta(scope=ProxyGrant.Scope.LIMITED, guarantor=False)
    before = len(events())
    with pytest.raises(Http404):
        call(name, greta, alice.patient_id, statement, paid)
    assert events()[before:] == []


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("cast", ["alice", "bill", "guarantor"])
def test_it_records_exactly_one_event_naming_the_patient(
    statement, paid, alice, greta, grant_to_greta, name, cast, request
):
    if cast == "guarantor":
        grant_to_greta(scope=ProxyGrant.Scope.LIMITED, guarantor=True)
        reader = greta
    else:
        reader = request.getfixturevalue(cast)
    before = len(events())
    call(name, reader, alice.patient_id, statement, paid)
    (event,) = events()[before:]
    assert event.action in AUDITED
    assert (event.actor_id, event.patient_id, event.severity) == (
        reader.pk,
        alice.patient_id,
        Severity.INFO,
    )
    assert (event.request_id, event.client_ip) == ("req-1", "192.0.2.7")


def test_it_keeps_another_patients_statement_from_alice(statement, paid, alice, mallory, bill):
    with pytest.raises(Http404):
        selectors.statement_page(
            actor=mallory, patient_id=mallory.patient_id, statement_id=statement.pk
        )
    with pytest.raises(Http404):
        selectors.receipt_page(actor=mallory, patient_id=mallory.patient_id, entry_id=paid.pk)
