"""Threads and messages as FHIR R4 ``Communication`` resources, for the record download.

A thread is one Communication (its subject as ``topic.text``, its topic as
``category``); each message is a Communication ``partOf`` its thread and
``inResponseTo`` the message before it, with the body as a ``contentString``
payload and each attachment as a ``contentAttachment`` (the sanitised bytes,
base64, with their SHA-1 as FHIR wants it). Internal notes are never included.

``communication_resources`` is part of the record download: it resolves the
patient through the access helper itself, but records no event of its own;
its one caller, ``records.selectors.bundle_resources``, records the download.
"""

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

from messaging.models import Message, Pool, Thread
from messaging.scope import visible_threads
from patients.models import Patient
from portal.access import Actor, access_patient
from portal.crypto.selectors import preload_keys

CATEGORY_SYSTEM = "urn:carebridge:message-topic"


def communication_resources(
    *, actor: Actor, patient_id: uuid.UUID
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, id, resource) of each thread and message the actor may see, oldest first."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    preload_keys([patient.pk])
    threads = visible_threads(actor).filter(patient=patient).order_by("created_at")
    for thread in threads:
        yield "Communication", str(thread.pk), thread_resource(thread, patient)
        previous = None
        messages = thread.messages.select_related("author").prefetch_related("attachments")
        for message in messages.order_by("created_at"):
            yield "Communication", str(message.pk), message_resource(message, patient, previous)
            previous = message


def _patient_ref(patient: Patient) -> dict[str, str]:
    if patient.fhir_id:
        return {"reference": f"Patient/{patient.fhir_id}"}
    return {"display": "Patient"}


def _text(value: object) -> str:
    return value if isinstance(value, str) else "[unreadable]"


def thread_resource(thread: Thread, patient: Patient) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "id": str(thread.pk),
        "status": "completed" if thread.status == "closed" else "in-progress",
        "category": [
            {
                "coding": [{"system": CATEGORY_SYSTEM, "code": thread.topic}],
                "text": thread.get_topic_display(),
            }
        ],
        "subject": _patient_ref(patient),
        "topic": {"text": _text(thread.subject)},
        "sent": thread.created_at.isoformat(),
        "recipient": [{"display": Pool(thread.pool).label}],
    }


def message_resource(
    message: Message, patient: Patient, previous: Message | None
) -> dict[str, Any]:
    payload: list[dict[str, Any]] = [{"contentString": _text(message.body)}]
    for attachment in message.attachments.all():
        content = attachment.content if isinstance(attachment.content, bytes) else b""
        payload.append(
            {
                "contentAttachment": {
                    "contentType": attachment.content_type,
                    "title": _text(attachment.name),
                    "size": attachment.size,
                    "hash": base64.b64encode(hashlib.sha1(content).digest()).decode(),  # noqa: S324 (FHIR's hash)
                    "data": base64.b64encode(content).decode(),
                }
            }
        )
    sender = (
        _patient_ref(patient)
        if message.from_patient
        else {"display": message.author.get_full_name()}
    )
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(message.pk),
        "partOf": [{"reference": f"Communication/{message.thread_id}"}],
        "status": "completed",
        "subject": _patient_ref(patient),
        "sent": message.created_at.isoformat(),
        "sender": sender,
        "payload": payload,
    }
    if previous is not None:
        resource["inResponseTo"] = [{"reference": f"Communication/{previous.pk}"}]
    return resource
