"""The assistant's forms: what the patient writes, the buttons, the draft message."""

from django import forms

MAX_TEXT = 2000


class SayForm(forms.Form):
    text = forms.CharField(
        label="Your message",
        max_length=MAX_TEXT,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={
            "required": "Write what you would like to do.",
            "max_length": f"Please keep it under {MAX_TEXT} characters.",
        },
    )


class AnswerForm(forms.Form):
    """A button under the open question: its id and the choice (a number, yes, no or send)."""

    pending = forms.CharField(max_length=36)
    choice = forms.RegexField(regex=r"^(yes|no|send|\d{1,2})$", max_length=4)
    subject = forms.CharField(required=False, max_length=200, label="Subject")
    body = forms.CharField(
        required=False, max_length=10000, label="Message", widget=forms.Textarea(attrs={"rows": 5})
    )
