"""What administrators see of invitations and links: ids, states, who did what; no PHI.

Every patient account with its patient id, EHR id and who invited it
(``PatientLink``), with an unlink page that needs the username typed; and the
invitations themselves, read-only.
"""

from typing import cast

from django.contrib import admin, messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from audit.context import audit_context
from invitations import proxies, services
from invitations.forms import RevokeForm, UnlinkForm
from invitations.models import Invitation, PatientLink
from patients.models import ProxyGrant
from portal.policy import Actor


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "patient_id",
        "state",
        "created_by",
        "created_at",
        "expires_at",
        "account",
    )
    list_filter = ("status",)
    ordering = ("-created_at",)
    fields = (
        "id",
        "patient_id",
        "status",
        "created_by",
        "created_at",
        "expires_at",
        "emailed",
        "failed_attempts",
        "ended_at",
        "account",
    )
    readonly_fields = fields


@admin.register(PatientLink)
class PatientLinkAdmin(ReadOnlyAdmin):
    list_display = ("username", "patient_id", "ehr_id", "invited_by", "linked_at", "unlink_link")
    search_fields = ("username",)
    ordering = ("username",)
    fields = ("username", "patient_id", "ehr_id", "invited_by", "linked_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):
        used = Invitation.objects.select_related("created_by").order_by("-ended_at")
        return (
            super()
            .get_queryset(request)
            .select_related("patient")
            .prefetch_related(Prefetch("invitations_used", queryset=used))
        )

    @admin.display(description="EHR id")
    def ehr_id(self, obj: PatientLink) -> str:
        return obj.patient.fhir_id if obj.patient is not None else "— (not linked)"

    def _invitation(self, obj: PatientLink) -> Invitation | None:
        used = list(obj.invitations_used.all())
        return used[0] if used else None

    @admin.display(description="Invited by")
    def invited_by(self, obj: PatientLink) -> str:
        invitation = self._invitation(obj)
        if invitation is None:
            return "— (no invitation: made by an administrator or the demo loader)"
        return str(invitation.created_by or "manage.py invite_patient")

    @admin.display(description="Linked at")
    def linked_at(self, obj: PatientLink):
        invitation = self._invitation(obj)
        return invitation.ended_at if invitation else obj.date_joined

    @admin.display(description="")
    def unlink_link(self, obj: PatientLink):
        if not obj.patient_id:
            return ""
        url = reverse("admin:invitations_patientlink_unlink", args=[obj.pk])
        return format_html('<a href="{}">Unlink…</a>', url)

    def get_urls(self):
        return [
            path(
                "<uuid:user_id>/unlink/",
                self.admin_site.admin_view(self.unlink_view),
                name="invitations_patientlink_unlink",
            ),
            *super().get_urls(),
        ]

    def unlink_view(self, request: HttpRequest, user_id) -> HttpResponse:
        link = get_object_or_404(PatientLink, pk=user_id, patient__isnull=False)
        form = UnlinkForm(request.POST or None, expected=link.username)
        if request.method == "POST" and form.is_valid():
            # The admin site lets only a verified administrator in: the user is an actor.
            actor = cast(Actor, request.user)
            services.unlink(actor=actor, context=audit_context(request), user_id=link.pk)
            messages.success(request, f"{link.username} is no longer linked; its sessions ended.")
            return redirect("admin:invitations_patientlink_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Unlink a patient account",
            "link": link,
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "invitations/admin_unlink.html", context)


@admin.register(ProxyGrant)
class ProxyGrantAdmin(ReadOnlyAdmin):
    """Every proxy grant by ids and states; staff revoke one here, with a reason."""

    list_display = (
        "id",
        "patient_id",
        "proxy",
        "kind",
        "relationship",
        "scope",
        "ends_on",
        "state",
        "revoke_link",
    )
    list_filter = ("kind", "scope")
    ordering = ("-created_at",)
    fields = (
        "id",
        "patient_id",
        "proxy",
        "kind",
        "relationship",
        "scope",
        "guarantor",
        "starts_on",
        "ends_on",
        "created_by",
        "created_at",
        "accepted_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
        "ended_at",
    )
    readonly_fields = fields

    @admin.display(description="State")
    def state(self, obj: ProxyGrant) -> str:
        if obj.revoked_at:
            return "revoked"
        if obj.ended_at:
            return "ended"
        return "active" if obj.proxy_id else "invited"

    @admin.display(description="")
    def revoke_link(self, obj: ProxyGrant) -> str:
        if obj.revoked_at or obj.ended_at:
            return ""
        url = reverse("admin:patients_proxygrant_revoke", args=[obj.pk])
        return format_html('<a href="{}">Revoke…</a>', url)

    def get_urls(self):
        return [
            path(
                "<uuid:grant_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="patients_proxygrant_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, grant_id) -> HttpResponse:
        grant = get_object_or_404(ProxyGrant, pk=grant_id)
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            actor = cast(Actor, request.user)
            try:
                done = proxies.proxy_revoke(
                    actor=actor,
                    context=audit_context(request),
                    grant_id=grant.pk,
                    reason=form.cleaned_data["reason"],
                )
            except services.InvitationError as error:
                form.add_error("reason", str(error))
            else:
                if done:
                    messages.success(request, "Revoked: the proxy can no longer open the record.")
                else:
                    messages.error(request, "That grant had already ended.")
                return redirect("admin:patients_proxygrant_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Revoke proxy access",
            "grant": grant,
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "invitations/admin_revoke.html", context)
