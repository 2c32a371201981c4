from django import forms


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeForm(forms.Form):
    METHODS = [("totp", "Authenticator app"), ("backup", "Backup code"), ("email", "E-mailed code")]

    method = forms.ChoiceField(choices=METHODS, initial="totp", widget=forms.HiddenInput)
    token = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class EnrolForm(forms.Form):
    token = forms.CharField(
        label="6-digit code from your app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class BreakGlassForm(forms.Form):
    patient_id = forms.UUIDField(
        label="Patient id", help_text="From the patient's wristband, referral or the EHR."
    )
    reason = forms.CharField(
        label="Why do you need this record now?",
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Reviewed by the privacy officer. Do not include clinical details.",
    )
    method = forms.ChoiceField(
        label="Confirm with",
        choices=[("totp", "Authenticator app"), ("backup", "Backup code")],
        initial="totp",
    )
    token = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ReauthForm(forms.Form):
    """Sudo mode: the password and a current code again, before a sensitive change."""

    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    method = forms.ChoiceField(choices=CodeForm.METHODS, initial="totp", widget=forms.HiddenInput)
    token = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class EmailChangeForm(forms.Form):
    TAKEN = "Another account already uses that address. Enter a different one."

    email = forms.EmailField(
        label="New e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        help_text="Password resets, e-mailed codes and notices go here from now on.",
    )

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email.casefold() == self.current.casefold():
            raise forms.ValidationError("That is already your address.")
        return email
