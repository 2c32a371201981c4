"""Forms of the messaging pages: lengths, topics, and how many files of what size."""

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from messaging.models import Pool, Topic


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.heic"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


ATTACHMENT_HELP = "Up to {n} files: PDF, JPEG, PNG or HEIC, {each} MB each, {total} MB in all."


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


class _WithFiles(forms.Form):
    attachments = MultipleFileField(required=False, label="Attach files (optional)")

    def __init__(
        self,
        *args: Any,
        upload_too_large: bool = False,
        upload_no_space: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.upload_too_large = upload_too_large
        self.upload_no_space = upload_no_space
        self.fields["attachments"].help_text = ATTACHMENT_HELP.format(
            n=settings.MESSAGING_MAX_FILES,
            each=_mb(settings.MESSAGING_MAX_FILE_BYTES),
            total=_mb(settings.MESSAGING_MAX_TOTAL_BYTES),
        )

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        if self.upload_no_space:
            raise forms.ValidationError(
                "We could not receive your files just now: the portal is short of storage "
                "space. Nothing was sent. Please try again later, or send your message "
                "without the files."
            )
        if self.upload_too_large:
            raise forms.ValidationError(
                "The files are too large: at most %(each)s MB each and %(total)s MB in all.",
                params={
                    "each": _mb(settings.MESSAGING_MAX_FILE_BYTES),
                    "total": _mb(settings.MESSAGING_MAX_TOTAL_BYTES),
                },
            )
        if len(files) > settings.MESSAGING_MAX_FILES:
            raise forms.ValidationError(
                "Attach at most %(n)s files.", params={"n": settings.MESSAGING_MAX_FILES}
            )
        if (
            any((f.size or 0) > settings.MESSAGING_MAX_FILE_BYTES for f in files)
            or sum(f.size or 0 for f in files) > settings.MESSAGING_MAX_TOTAL_BYTES
        ):
            raise forms.ValidationError("The files are too large.")
        return files


class ComposeForm(_WithFiles):
    topic = forms.ChoiceField(choices=[("", "Choose a topic"), *Topic.choices])
    subject = forms.CharField(max_length=settings.MESSAGING_SUBJECT_MAX)
    body = forms.CharField(
        label="Message", max_length=settings.MESSAGING_BODY_MAX, widget=forms.Textarea
    )
    field_order = ["topic", "subject", "body", "attachments"]


class ReplyForm(_WithFiles):
    body = forms.CharField(
        label="Your reply", max_length=settings.MESSAGING_BODY_MAX, widget=forms.Textarea
    )
    field_order = ["body", "attachments"]


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Internal note (never shown to the patient)",
        max_length=settings.MESSAGING_BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReassignForm(forms.Form):
    to = forms.CharField(label="Give to")

    def clean_to(self) -> dict[str, Any]:
        """``to_user_id`` or ``to_pool`` for the service, from the one select."""
        value = self.cleaned_data["to"]
        if value.startswith("pool:") and value[5:] in Pool.values:
            return {"to_pool": value[5:]}
        if value.startswith("user:"):
            try:
                return {"to_user_id": uuid.UUID(value[5:])}
            except ValueError:
                pass
        raise forms.ValidationError("Choose a person or a pool.")


class PreferenceForm(forms.Form):
    email = forms.BooleanField(
        required=False, label="E-mail me when I have a new message (the e-mail says nothing else)"
    )


class AbsenceForm(forms.Form):
    starts_at = forms.DateTimeField(
        label="Away from", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label="Back on", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    delegate = forms.UUIDField(
        required=False,
        label="Give my conversations to",
        widget=forms.Select,
        help_text="Leave empty to send them back to the pool.",
    )

    def __init__(
        self, *args: Any, colleagues: Sequence[tuple[str, str]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delegate"].widget.choices = [("", "The pool"), *colleagues]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The absence must end after it starts.")
        return data
