from django import forms

from billing import money
from billing.services import ItemInput


class AmountField(forms.CharField):
    """An amount typed as "12.34", cleaned to minor units (int), never a float."""

    def __init__(self, *args: object, currency: str = "", **kwargs: object) -> None:
        self.currency = currency
        kwargs.setdefault("max_length", 20)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self, value: object) -> int | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        try:
            return money.parse(text, self.currency or money.default_currency())
        except ValueError:
            raise forms.ValidationError("Enter an amount such as 25.00.") from None


class PayForm(forms.Form):
    CHOICES = [("full", "The full balance"), ("other", "Another amount")]

    choice = forms.ChoiceField(choices=CHOICES, widget=forms.RadioSelect, initial="full")
    amount = AmountField(label="Amount", required=False)

    def __init__(self, *args: object, balance: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.balance = balance

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("choice") == "other" and not data.get("amount"):
            self.add_error("amount", "Enter the amount you want to pay.")
        return data

    def pay_amount(self) -> int:
        if self.cleaned_data["choice"] == "full":
            return self.balance
        return int(self.cleaned_data["amount"])


class PlanForm(forms.Form):
    monthly_amount = AmountField(label="Monthly payment")


class MrnForm(forms.Form):
    mrn = forms.CharField(label="Medical record number", max_length=64)


class StatementForm(forms.Form):
    number = forms.CharField(label="Statement number", max_length=40)
    due_on = forms.DateField(label="Due on", widget=forms.DateInput(attrs={"type": "date"}))


class LineForm(forms.Form):
    service_date = forms.DateField(
        label="Date of service", widget=forms.DateInput(attrs={"type": "date"})
    )
    description = forms.CharField(label="Description", max_length=300)
    charge = AmountField(label="Charge")
    insurance_paid = AmountField(label="Insurance paid", required=False)
    adjustment = AmountField(label="Adjustments", required=False)

    def item(self) -> ItemInput:
        data = self.cleaned_data
        charge, paid, adjusted = (
            data["charge"],
            data["insurance_paid"] or 0,
            data["adjustment"] or 0,
        )
        return ItemInput(
            service_date=data["service_date"],
            description=data["description"],
            charge=charge,
            insurance_paid=paid,
            adjustment=adjusted,
            patient_responsibility=charge - paid - adjusted,
        )

    def clean(self) -> dict:
        data = super().clean() or {}
        charge = data.get("charge") or 0
        if (data.get("insurance_paid") or 0) + (data.get("adjustment") or 0) > charge:
            raise forms.ValidationError("Insurance and adjustments exceed the charge.")
        return data


LineFormSet = forms.formset_factory(LineForm, extra=3, min_num=1, validate_min=True)


class PlanCancelForm(forms.Form):
    reason = forms.CharField(label="Reason for cancelling", max_length=500)


class RefundForm(forms.Form):
    amount = AmountField(label="Amount to refund")
    reason = forms.CharField(label="Reason", max_length=500)
