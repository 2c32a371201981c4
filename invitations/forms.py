from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import User
from patients.models import ProxyGrant


class EhrSearchForm(forms.Form):
    """An MRN, or a family name with a birth date: never a browse of the EHR."""

    mrn = forms.CharField(label="Medical record number", max_length=64, required=False)
    system = forms.CharField(
        label="MRN system (URI)",
        max_length=255,
        required=False,
        help_text="Leave blank to match the number in any system.",
    )
    family = forms.CharField(label="Last name", max_length=100, required=False)
    birth_date = forms.DateField(
        label="Date of birth",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].initial = settings.PORTAL_MRN_SYSTEM

    def clean(self):
        data = super().clean()
        if data.get("mrn"):
            data["family"], data["birth_date"] = "", None
        elif not (data.get("family") and data.get("birth_date")):
            raise ValidationError(
                "Enter a medical record number, or a last name and a date of birth."
            )
        return data


class InviteForm(forms.Form):
    fhir_id = forms.RegexField(regex=r"^[A-Za-z0-9\-.]{1,64}$", max_length=64)


class LetterForm(forms.Form):
    invitation = forms.UUIDField()
    code = forms.CharField(max_length=40)


class IdentityForm(forms.Form):
    code = forms.CharField(
        label="Activation code",
        max_length=40,
        help_text="16 letters and numbers, as on your letter or e-mail. Dashes and spaces "
        "don't matter.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    family_name = forms.CharField(
        label="Last name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    birth_date = forms.DateField(
        label="Date of birth",
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
    )


class AccountForm(forms.Form):
    username = forms.RegexField(
        label="Username",
        regex=r"^[\w.@+-]{3,150}$",
        max_length=150,
        help_text="3 to 150 letters, digits and @ . + - _",
        error_messages={"invalid": "Use 3 to 150 letters, digits and @ . + - _ only."},
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    email = forms.EmailField(
        label="E-mail address",
        help_text="For sign-in codes and notices that something is waiting in the portal.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        password = data.get("password1")
        if password and password != data.get("password2"):
            self.add_error("password2", "The two passwords differ. Type the same one twice.")
        elif password:
            candidate = User(username=data.get("username", ""), email=data.get("email", ""))
            try:
                validate_password(password, candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return data


class UnlinkForm(forms.Form):
    username = forms.CharField(label="Type the account's username to confirm", max_length=150)

    def __init__(self, *args, expected: str, **kwargs):
        self.expected = expected
        super().__init__(*args, **kwargs)

    def clean_username(self):
        if self.cleaned_data["username"] != self.expected:
            raise ValidationError("That is not this account's username.")
        return self.cleaned_data["username"]


class GuardianForm(forms.Form):
    fhir_id = forms.RegexField(
        regex=r"^[A-Za-z0-9\-.]{1,64}$", max_length=64, widget=forms.HiddenInput
    )
    relationship = forms.ChoiceField(
        label="Relationship to the child",
        choices=[
            (ProxyGrant.Relationship.PARENT, "Parent"),
            (ProxyGrant.Relationship.LEGAL_GUARDIAN, "Legal guardian"),
        ],
    )
    email = forms.EmailField(
        label="Their e-mail address",
        required=False,
        help_text="Optional: the code is also sent there. Leave blank to hand it over in person.",
    )
    checked = forms.BooleanField(
        label="I checked this adult's identity and their relationship to the child",
        required=True,
    )


class CaregiverForm(forms.Form):
    email = forms.EmailField(label="Their e-mail address", help_text="The invitation goes there.")
    relationship = forms.ChoiceField(
        label="Who they are to you",
        choices=[
            (r.value, r.label)
            for r in ProxyGrant.Relationship
            if r not in (ProxyGrant.Relationship.PARENT, ProxyGrant.Relationship.LEGAL_GUARDIAN)
        ],
    )
    scope = forms.ChoiceField(
        label="What they may see",
        choices=[
            (ProxyGrant.Scope.FULL, "Everything I see (except records marked confidential)"),
            (ProxyGrant.Scope.LIMITED, "My record only: not my messages or bills"),
        ],
        widget=forms.RadioSelect,
        initial=ProxyGrant.Scope.FULL,
    )
    ends_on = forms.DateField(
        label="Until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave blank for the longest the clinic allows.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=200, required=False)


class ChooseRecordForm(forms.Form):
    patient = forms.UUIDField()
