"""Forms of the refill pages."""

import uuid
from typing import Any, cast

from django import forms

from refills.models import Pharmacy
from refills.rules import Eligibility
from refills.services import Decision
from refills.vocabulary import REFUSAL_REASONS


class MedicinesField(forms.MultipleChoiceField):
    """Shows what may be asked now, but passes any of the patient's active prescriptions
    on to the service, which decides (and audits a refusal); a replayed form whose
    medicines are now open still reaches the service and finds its first request."""

    allowed: frozenset[str] = frozenset()

    def valid_value(self, value: str) -> bool:
        return value in self.allowed


class RequestForm(forms.Form):
    medicines = MedicinesField(
        label="Medicines",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one medicine."},
    )
    pharmacy = forms.TypedChoiceField(label="Pharmacy", coerce=int)
    comment = forms.CharField(
        label="Anything your care team should know (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # One per form shown: a second submit of the same form finds the first request.
    submit_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(
        self,
        data: Any = None,
        *,
        medicines: list[Eligibility],
        every_medicine: list[Eligibility],
        pharmacies: list[Pharmacy],
        preferred: int | None = None,
        chosen: str = "",
    ) -> None:
        initial = {
            "submit_token": uuid.uuid4(),
            "pharmacy": preferred,
            "medicines": [chosen] if chosen else [],
        }
        super().__init__(data, initial=initial)
        cast(forms.ChoiceField, self.fields["medicines"]).choices = [
            (
                m.medication_request_id,
                f"{m.medicine} ({'renewal' if m.offer == 'renewal' else 'refill'})",
            )
            for m in medicines
        ]
        field = self.fields["medicines"]
        if isinstance(field, MedicinesField):
            field.allowed = frozenset(m.medication_request_id for m in every_medicine)
        cast(forms.ChoiceField, self.fields["pharmacy"]).choices = [("", "Choose a pharmacy")] + [
            (p.pk, f"{p.name}, {p.address} ({p.phone})") for p in pharmacies
        ]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (Decision.APPROVE, "Approve"),
            (Decision.DENY, "Deny"),
            (Decision.APPOINTMENT, "Needs an appointment"),
        ]
    )
    refills = forms.IntegerField(label="Refills", min_value=0, max_value=11, required=False)
    days_supply = forms.IntegerField(
        label="Days' supply", min_value=1, max_value=365, required=False
    )
    reason_code = forms.ChoiceField(
        label="Reason (for a denial)",
        choices=[("", "No reason"), *sorted(REFUSAL_REASONS.items(), key=lambda kv: kv[1])],
        required=False,
    )
    reason_text = forms.CharField(
        label="Note to the patient (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    otp_token = forms.CharField(
        label="Authenticator code (high-risk medicines only)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
