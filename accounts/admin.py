from django import forms
from django.contrib import admin
from django.contrib.auth.forms import BaseUserCreationForm

from accounts import services
from accounts.models import AuthenticatorDevice, BackupCodeDevice, User
from audit.context import audit_context
from portal.access import Role


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email", "display_name", "role")


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("username", "email", "display_name", "role", "is_active")

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if (role == Role.PATIENT) != (self.instance.role == Role.PATIENT):
            raise forms.ValidationError(
                "A patient account can't become a staff account or the reverse. "
                "Create a new account instead."
            )
        return role


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "email", "display_name")
    ordering = ("username",)
    readonly_fields = ("id", "patient", "last_login", "date_joined")
    fields = (
        "id",
        "username",
        "email",
        "display_name",
        "role",
        "patient",
        "is_active",
        "last_login",
        "date_joined",
    )
    add_form = UserCreationForm
    # A patient account gets its own patient record; it is never picked by hand.
    add_fields = ("username", "email", "display_name", "role", "password1", "password2")

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = self.add_form if obj is None else UserChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj: User, form: forms.ModelForm, change: bool) -> None:
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        if not change:
            services.patient_record_attach(user=obj)
        super().save_model(request, obj, form, change)
        if deactivating:
            # Ends every session of the account at once, not at its next request.
            services.user_deactivate(actor=request.user, user=obj, context=audit_context(request))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Accounts are deactivated, never deleted: the audit trail names them.
        return False


class SecondFactorAdmin(admin.ModelAdmin):
    """An administrator sees who has which second factor and can remove one (the user then
    sets up a new one at the next sign-in), reset its throttle, or turn it off. Never a seed
    or a code: neither is stored in a form anyone can read, and neither is ever made here."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = (
        "user",
        "name",
        "confirmed",
        "created_at",
        "last_used_at",
        "throttling_failure_timestamp",
        "throttling_failure_count",
    )
    readonly_fields = ("user", "created_at", "last_used_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(AuthenticatorDevice, SecondFactorAdmin)
admin.site.register(BackupCodeDevice, SecondFactorAdmin)
