"""A patient sees every staff access to their own record, and nothing else."""

import pytest

from audit.actions import Action, Outcome, Severity
from audit.services import record
from tests.conftest import sign_in_fully

PAGE = "/audit/who-viewed-my-record/"


def test_it_lists_staff_views_of_the_patients_own_record(client, alice, mallory, carol, dave, nina):
    record(action=Action.RECORD_VIEW, actor=carol, patient_id=alice.patient_id, object_type="chart")
    record(
        action=Action.BREAK_GLASS,
        actor=dave,
        patient_id=alice.patient_id,
        object_type="accounts.breakglassgrant",
        reason="unconscious in A&E",
        severity=Severity.HIGH,
    )
    record(
        action=Action.RECORD_VIEW, actor=nina, patient_id=mallory.patient_id, object_type="chart"
    )
    record(action=Action.RECORD_VIEW, actor=alice, patient_id=alice.patient_id, object_type="chart")
    sign_in_fully(client, alice)

    response = client.get(PAGE)
    assert response.status_code == 200
    accesses = response.context["accesses"]
    assert [(a.who, a.role, a.break_glass) for a in accesses] == [
        ("Dr Dave Okafor", "Physician", True),
        ("Dr Carol Chen", "Physician", False),
    ]
    assert accesses[1].what == "chart"
    page = response.content.decode()
    assert "Yes, emergency access" in page
    assert "unconscious" not in page  # the clinician's reason is for auditors
    assert "nina" not in page


def test_it_pages_a_long_history(client, alice, carol, settings):
    settings.AUDIT_PAGE_SIZE = 2
    for _ in range(5):
        record(action=Action.RECORD_VIEW, actor=carol, patient_id=alice.patient_id)
    sign_in_fully(client, alice)
    last = client.get(PAGE, {"page": 3})
    assert len(last.context["accesses"]) == 1
    assert "Page 3 of 3" in last.content.decode()


def test_it_shows_mallory_nothing_of_alices_record(client, alice, mallory, carol):
    record(action=Action.RECORD_VIEW, actor=carol, patient_id=alice.patient_id)
    record(action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, actor=carol)
    sign_in_fully(client, mallory)
    assert client.get(PAGE).context["accesses"] == []


@pytest.mark.parametrize("who", ["carol", "nina", "bill", "fran", "ada", "otto"])
def test_it_refuses_the_page_to_staff(client, request, who):
    sign_in_fully(client, request.getfixturevalue(who))
    assert client.get(PAGE).status_code == 403
