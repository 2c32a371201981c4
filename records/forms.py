from django import forms


class ShredConfirmIdForm(forms.Form):
    patient_id = forms.UUIDField(label="Type the patient id to confirm")
    reason = forms.CharField(
        label="Reason for disposal",
        max_length=200,
        help_text="E.g. retention period ended, or the patient's request (reference number).",
    )

    def __init__(self, *args, patient_id, **kwargs):
        self.expected = patient_id
        super().__init__(*args, **kwargs)

    def clean_patient_id(self):
        if self.cleaned_data["patient_id"] != self.expected:
            raise forms.ValidationError("That is not this patient's id.")
        return self.cleaned_data["patient_id"]


class ShredConfirmWordForm(ShredConfirmIdForm):
    word = forms.CharField(label="Type SHRED to destroy this patient's data for good")

    def clean_word(self):
        if self.cleaned_data["word"] != "SHRED":
            raise forms.ValidationError("Type SHRED in capitals, or go back.")
        return self.cleaned_data["word"]


class MrnLookupForm(forms.Form):
    mrn = forms.CharField(
        label="Medical record number",
        max_length=40,
        help_text="Exact number, as on the patient's card or letter.",
    )
