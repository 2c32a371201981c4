from typing import cast

from django import forms

from appointments.selectors import BookingOptions
from appointments.services import SlotChoice


def _choices(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class FindSlotsForm(forms.Form):
    visit_type = forms.TypedChoiceField(label="Type of visit", coerce=str)
    clinician = forms.ChoiceField(label="Clinician", required=False)
    location = forms.ChoiceField(label="Location", required=False)

    def __init__(self, *args: object, options: BookingOptions, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _choices(self, "visit_type").choices = [
            (str(v.pk), f"{v.name} ({v.duration_minutes} min, {v.get_mode_display().lower()})")
            for v in options.visit_types
        ]
        _choices(self, "clinician").choices = [("", "Any clinician")] + [
            (str(c.pk), c.display_name or c.username) for c in options.clinicians
        ]
        _choices(self, "location").choices = [("", "Any location")] + [
            (str(loc.pk), loc.name) for loc in options.locations
        ]


class SlotForm(forms.Form):
    """The slot chosen from the list, sent back as hidden fields (checked by the service)."""

    clinician = forms.UUIDField(widget=forms.HiddenInput)
    location = forms.UUIDField(widget=forms.HiddenInput)
    visit_type = forms.UUIDField(widget=forms.HiddenInput)
    starts_at = forms.DateTimeField(widget=forms.HiddenInput)

    def choice(self) -> SlotChoice:
        data = self.cleaned_data
        return SlotChoice(
            data["clinician"], data["location"], data["visit_type"], data["starts_at"]
        )


class BookForm(SlotForm):
    reason = forms.CharField(
        label="Reason for the visit",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you would like to discuss. Only you and your clinicians see it.",
    )


class MrnForm(forms.Form):
    mrn = forms.CharField(label="Patient's medical record number", max_length=64)


class StaffBookForm(SlotForm):
    reason = forms.CharField(
        label="Reason for the visit (optional)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept for the clinician; the front desk does not see it afterwards.",
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why are you cancelling?",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MarkForm(forms.Form):
    status = forms.ChoiceField(choices=[("arrived", "Arrived"), ("no_show", "No-show")])


class ScheduleForm(forms.Form):
    day = forms.DateField(label="From", required=False)
    span = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week")], required=False)
    clinician = forms.ChoiceField(label="Clinician", required=False)
    location = forms.ChoiceField(label="Location", required=False)

    def __init__(self, *args: object, options: BookingOptions, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _choices(self, "clinician").choices = [("", "All clinicians")] + [
            (str(c.pk), c.display_name or c.username) for c in options.clinicians
        ]
        _choices(self, "location").choices = [("", "All locations")] + [
            (str(loc.pk), loc.name) for loc in options.locations
        ]
