"""The auditor's search of the trail: filters, paging, bad input, and who may use it."""

import uuid

import pytest

from audit.actions import Action, Outcome
from audit.services import record
from tests.conftest import sign_in_fully

WORKSPACE = "/audit/"


@pytest.fixture
def auditor(client, otto):
    return sign_in_fully(client, otto)


def shown(response) -> list[int]:
    return [event.pk for event, _ in response.context["page"].rows]


def test_it_searches_by_user_patient_action_and_outcome(auditor, alice, mallory, carol, dave):
    viewed = record(action=Action.RECORD_VIEW, actor=carol, patient_id=alice.patient_id)
    record(action=Action.RECORD_VIEW, actor=dave, patient_id=alice.patient_id)
    record(action=Action.RECORD_VIEW, actor=carol, patient_id=mallory.patient_id)
    denied = record(action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, actor=carol)

    by_both = auditor.get(WORKSPACE, {"user": "carol", "patient": alice.patient_id})
    assert shown(by_both) == [viewed.pk]
    by_id = auditor.get(WORKSPACE, {"user": str(carol.pk), "outcome": "denied"})
    assert shown(by_id) == [denied.pk]
    by_action = auditor.get(WORKSPACE, {"action": Action.RECORD_VIEW, "user": "CAROL"})
    assert len(shown(by_action)) == 2
    assert b"carol" in by_action.content


def test_it_searches_a_time_range(auditor, carol, time_machine):
    time_machine.move_to("2026-01-10 09:00Z")
    record(action=Action.LOGIN, actor=carol)
    time_machine.move_to("2026-01-11 09:00Z")
    inside = record(action=Action.LOGIN, actor=carol)
    time_machine.move_to("2026-01-12 09:00Z")
    record(action=Action.LOGIN, actor=carol)
    response = auditor.get(
        WORKSPACE, {"user": "carol", "since": "2026-01-11T00:00", "until": "2026-01-12T00:00"}
    )
    assert shown(response) == [inside.pk]


def test_it_pages_newest_first(auditor, alice, carol, settings):
    settings.AUDIT_PAGE_SIZE = 3
    ids = [
        record(action=Action.RECORD_VIEW, actor=carol, patient_id=alice.patient_id).pk
        for _ in range(7)
    ]
    newest_first = ids[::-1]
    filters = {"patient": alice.patient_id}
    first = auditor.get(WORKSPACE, filters)
    assert shown(first) == newest_first[:3]
    assert first.context["page"].newer is None
    second = auditor.get(WORKSPACE, {**filters, "before": first.context["page"].older})
    assert shown(second) == newest_first[3:6]
    last = auditor.get(WORKSPACE, {**filters, "before": second.context["page"].older})
    assert shown(last) == newest_first[6:]
    assert last.context["page"].older is None
    back = auditor.get(WORKSPACE, {**filters, "after": last.context["page"].newer})
    assert shown(back) == newest_first[3:6]
    assert f"before={second.context['page'].older}".encode() in second.content


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"patient": "not-a-uuid"}, "Enter a patient id"),
        ({"since": "yesterday"}, "Enter a date and time"),
        ({"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"}, "must come after its start"),
        ({"user": "nobody-by-that-name"}, "No user has that username"),
        ({"action": "drop.table"}, "Select a valid choice"),
        ({"before": "-4"}, "greater than or equal to 1"),
    ],
)
def test_it_explains_a_malformed_filter_and_keeps_the_rest(auditor, filters, message):
    response = auditor.get(WORKSPACE, {**filters, "outcome": "denied"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["page"] is None
    assert b'<option value="denied" selected>' in response.content


def test_it_refuses_a_malformed_export_filter_with_the_same_form(auditor):
    response = auditor.post("/audit/export/events.csv", {"patient": "x", "action": "login"})
    assert response.status_code == 400
    assert "Enter a patient id" in response.content.decode()
    assert b'<option value="login" selected>' in response.content


AUDITOR_PAGES = [
    ("get", WORKSPACE),
    ("post", "/audit/export/events.csv"),
    ("post", "/audit/export/events.jsonl"),
    ("post", "/audit/export/changes.csv"),
    ("post", "/audit/export/changes.jsonl"),
    ("get", f"/audit/exports/{uuid.uuid4()}/manifest.json"),
]


@pytest.mark.parametrize("who", ["alice", "carol", "nina", "bill", "fran", "ada"])
def test_it_refuses_the_workspace_to_everyone_but_auditors(client, request, who):
    sign_in_fully(client, request.getfixturevalue(who))
    for method, path in AUDITOR_PAGES:
        assert getattr(client, method)(path).status_code == 403, path


def test_it_answers_404_for_a_manifest_that_does_not_exist(auditor):
    assert auditor.get(f"/audit/exports/{uuid.uuid4()}/manifest.json").status_code == 404
