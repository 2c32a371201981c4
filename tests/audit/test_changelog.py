"""django-auditlog keeps field-level changes of users, secrets masked, append-only."""

import pytest
from auditlog.models import LogEntry
from django.db import transaction
from django.db.utils import DatabaseError

from tests.conftest import sign_in_fully


def changes_of(user) -> list[dict]:
    return [
        e.changes
        for e in LogEntry.objects.get_for_object(user).filter(action=LogEntry.Action.UPDATE)
    ]


def test_it_records_a_user_change_with_password_and_email_masked(carol):
    carol.email = "carol.chen@clinic.example"
    carol.set_password("a brand new passphrase")
    carol.display_name = "Dr C. Chen"
    carol.save()
    [change] = changes_of(carol)
    assert change["display_name"] == ["Dr Carol Chen", "Dr C. Chen"]
    assert change["email"] == ["[masked]", "[masked]"]
    assert change["password"] == ["[masked]", "[masked]"]
    assert "clinic.example" not in str(change)


def test_it_names_the_signed_in_actor_of_a_change(client, ada, carol):
    sign_in_fully(client, ada)
    response = client.post(
        f"/admin/accounts/user/{carol.pk}/change/",
        {
            "username": "carol",
            "email": "carol@example.org",
            "display_name": "Dr Carol C.",
            "role": "physician",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get_for_object(carol).order_by("-pk").first()
    assert entry.changes["display_name"] == ["Dr Carol Chen", "Dr Carol C."]
    assert (entry.actor_id, entry.remote_addr) == (ada.pk, "127.0.0.1")


def test_it_refuses_to_change_or_delete_a_change_row(carol):
    carol.display_name = "Dr Carol"
    carol.save()
    entry = LogEntry.objects.get_for_object(carol).first()
    for statement in (
        lambda: LogEntry.objects.filter(pk=entry.pk).update(changes_text="nothing"),
        lambda: LogEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
