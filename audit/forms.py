import uuid
from typing import Any

from django import forms

from audit import selectors
from audit.actions import Action, Outcome

WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class TrailSearchForm(forms.Form):
    """The auditor's filters; every one optional, each checked before any query runs."""

    user = forms.CharField(
        required=False, max_length=150, help_text="A username or a user id (UUID)."
    )
    patient = forms.UUIDField(
        required=False,
        label="Patient id",
        error_messages={"invalid": "Enter a patient id: a UUID such as 0b7e5c1e-…."},
    )
    action = forms.ChoiceField(required=False, choices=[("", "Any"), *Action.choices])
    outcome = forms.ChoiceField(required=False, choices=[("", "Any"), *Outcome.choices])
    since = forms.DateTimeField(
        required=False,
        label="From",
        widget=WHEN,
        help_text="Inclusive, in the portal's time zone.",
        error_messages={"invalid": "Enter a date and time such as 2026-01-31T09:00."},
    )
    until = forms.DateTimeField(
        required=False,
        label="Until",
        widget=WHEN,
        help_text="Exclusive.",
        error_messages={"invalid": "Enter a date and time such as 2026-01-31T17:00."},
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    FILTERS = ("user", "patient", "action", "outcome", "since", "until")

    def clean_user(self) -> uuid.UUID | None:
        value = self.cleaned_data["user"].strip()
        if not value:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
        found = selectors.user_id_for(username=value)
        if found is None:
            raise forms.ValidationError("No user has that username. Enter a username or user id.")
        return found

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "The end of the time range must come after its start.")
        return data

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.FILTERS]
