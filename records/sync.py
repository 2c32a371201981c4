"""Syncing one patient's records from the EHR, and asking for it.

``sync_patient()`` does the work (the background job in records/tasks.py calls
it): for each resource type the pages show, one paged search limited to the
patient (``Observation?patient=<id>&category=laboratory``…), incremental by
``_lastUpdated`` after the first run, each result stream handed to
``records.ingest.ingest()`` (validate, screen, encrypt, upsert, audit).

A failing type does not stop the others, and never removes what is stored:
the EHR's errors (``FhirError``: timeouts, 5xx, 429, resets, bad JSON, page
loops, oversized answers) end that type's search within the client's bounds,
``ingest()`` records a failed sync event with its counts, and the next sync
tries again from the same high-water mark.

Once the Encounters are stored, the ones this sync wrote (new or changed) are
announced by ``records.signals.encounters_synced`` after the commit (ids only):
the assistant schedules post-discharge check-ins from it without records
importing the assistant.

``request_sync()`` queues the job: at sign-in when the data is older than
``FHIR_SYNC_STALE_AFTER``, and when the patient presses Refresh (at most once
per ``FHIR_REFRESH_INTERVAL``). The job is deferred in the caller's
transaction, with a queueing lock per patient, so a patient never has two
syncs waiting.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from procrastinate import exceptions as procrastinate_exceptions
from procrastinate.contrib.django import app

from audit.actions import Action, Outcome
from audit.services import record
from patients.models import Patient, PatientDemographics
from portal.access import PATIENT_SIDE_ROLES, clinical_patients
from portal.crypto.scope import key_scope
from portal.fhir import FhirClient, FhirConfig, FhirError, InvalidResource, validate
from portal.fhir.checks import smart_config
from records import selectors
from records.demographics import from_fhir_patient
from records.ingest import IngestReport, ingest, quarantine
from records.models import FhirRecord, QuarantineReason, ResourceType, SyncState
from records.signals import encounters_synced
from records.types import SYNCED_TYPES

PAGE_SIZE = 100
# The job that runs sync_patient() (records/tasks.py), deferred here by name:
# the task module imports this one, not the reverse.
SYNC_JOB = "records.sync_patient"
logger = logging.getLogger(__name__)


class SyncReason(StrEnum):
    SIGN_IN = "sign_in"
    REFRESH = "refresh"
    ACTIVATION = "activation"  # the patient's account was just made


class SyncUnavailable(Exception):
    """No EHR is configured, or the patient is not linked to one; nothing to sync."""


@dataclass
class SyncResult:
    reports: dict[str, IngestReport] = field(default_factory=dict)
    # Resource type → the FhirError's reason code, for the types that failed.
    failed: dict[str, str] = field(default_factory=dict)
    # What became of the patient's demographics: "stored", "unchanged", or why not.
    demographics: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def configured() -> bool:
    return bool(settings.FHIR_BASE_URL)


def fhir_client() -> FhirClient:
    """A client for the configured EHR (settings FHIR_*); the caller closes it."""
    if not configured():
        raise SyncUnavailable("no EHR configured")
    return FhirClient(
        FhirConfig(base_url=settings.FHIR_BASE_URL, ca_bundle=settings.FHIR_CA_BUNDLE or None),
        smart=smart_config(settings.FHIR_SCOPE or default_scope()),
    )


def default_scope() -> str:
    """Read and search of the patient's own Patient resource and of each synced type."""
    return " ".join(f"system/{t}.rs" for t in ["Patient", *SYNCED_TYPES])


def sync_patient(
    *, patient: Patient, client: FhirClient | None = None, actor: Any = None
) -> SyncResult:
    """Fetch and store every shown type of ``patient``'s records; see the module docstring."""
    if not patient.fhir_id:
        raise SyncUnavailable("patient not linked to the EHR")
    own_client = client is None
    client = client or fhir_client()
    result = SyncResult()
    try:
        for resource_type, narrowing in SYNCED_TYPES.items():
            params = {"patient": patient.fhir_id, "_count": str(PAGE_SIZE), **narrowing}
            high_water, complete = _incremental_from(patient, resource_type)
            if not complete:
                # "ge", not "gt": a resource changed in the same instant as the
                # newest one stored is fetched again (and skipped as unchanged)
                # rather than missed.
                params["_lastUpdated"] = "ge" + high_water.isoformat()
            started = timezone.now()
            try:
                result.reports[resource_type] = ingest(
                    patient=patient,
                    resource_type=resource_type,
                    resources=client.search(resource_type, params),
                    requested_patient_fhir_id=patient.fhir_id,
                    actor=actor,
                    complete=complete,
                )
            except FhirError as error:
                result.failed[resource_type] = error.reason
            if resource_type == ResourceType.ENCOUNTER:
                # A failed search may still have stored its first pages: they count too.
                _announce_encounters(patient, since=started)
        try:
            result.demographics = _sync_demographics(patient, client, actor)
        except FhirError as error:
            result.failed["Patient"] = error.reason
    finally:
        if own_client:
            client.close()
    if dropped := {t: r.dropped for t, r in result.reports.items() if r.dropped}:
        _alert_foreign_resources(patient, dropped)
    return result


def _announce_encounters(patient: Patient, *, since: datetime) -> None:
    """Send records.signals.encounters_synced with the Encounters this sync wrote (ids),
    once they are committed; nothing when it wrote none."""
    written = list(
        FhirRecord.objects.filter(
            patient=patient, resource_type=ResourceType.ENCOUNTER, stored_at__gte=since
        ).values_list("fhir_id", flat=True)
    )
    if written:
        transaction.on_commit(lambda: _send_encounters_synced(patient.pk, written))


def _send_encounters_synced(patient_id: Any, encounter_ids: list[str]) -> None:
    # Not send_robust: Django would log a failing receiver's message, which could name PHI.
    try:
        encounters_synced.send(
            sender=ResourceType.ENCOUNTER, patient_id=patient_id, encounter_ids=encounter_ids
        )
    except Exception as error:
        # The receivers' problem, never the sync's: ids and the error's type only.
        logger.error(
            "encounters_synced failed for patient %s: %s", patient_id, type(error).__name__
        )


def _sync_demographics(patient: Patient, client: FhirClient, actor: Any) -> str:
    """Keep the patient's demographics as the EHR's Patient resource has them.

    Only the resource whose id is the linked one counts; anything else the
    search returns is ignored. An invalid resource is quarantined; an MRN that
    another portal patient already has is refused (audited), never merged.
    """
    found = [
        r
        for r in islice(client.search("Patient", {"_id": patient.fhir_id}), 5)
        if r.get("resourceType") == "Patient" and r.get("id") == patient.fhir_id
    ]
    if len(found) != 1:
        outcome = "not_found"
    else:
        try:
            validate(found[0])
        except InvalidResource as error:
            quarantine(
                patient, "Patient", patient.fhir_id, QuarantineReason.INVALID, actor, error.reason
            )
            outcome = "invalid"
        else:
            outcome = store_demographics(patient, from_fhir_patient(found[0]))
    record(
        action=Action.RECORDS_SYNC,
        outcome=Outcome.SUCCESS if outcome in ("stored", "unchanged") else Outcome.FAILURE,
        actor=actor,
        patient_id=patient.pk,
        object_type="Patient",
        object_id=outcome,
    )
    return outcome


def store_demographics(patient: Patient, values: dict[str, Any]) -> str:
    """Write the patient's demographics: "stored", "unchanged" or "mrn_conflict".

    "mrn_conflict": another portal patient holds this MRN of this system; nothing
    is written (two records are never merged silently).
    """
    with key_scope(), transaction.atomic():
        row = PatientDemographics.objects.select_for_update().filter(patient=patient).first()
        if row is not None and all(getattr(row, k) == v for k, v in values.items()):
            return "unchanged"
        row = row or PatientDemographics(patient=patient)
        for name, value in values.items():
            setattr(row, name, value)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            return "mrn_conflict"
    return "stored"


def _alert_foreign_resources(patient: Patient, dropped: dict[str, int]) -> None:
    """The EHR answered a patient's query with someone else's data: tell a person.

    Each resource already has a high-severity audit event; this is one warning
    log line and one mail to the privacy officer per sync, ids and counts only.
    """
    counts = ", ".join(f"{count} {resource_type}" for resource_type, count in dropped.items())
    logger.warning(
        "EHR returned resources about another patient for patient %s: %s (dropped)",
        patient.pk,
        counts,
    )
    if settings.PORTAL_PRIVACY_OFFICER_EMAIL:
        send_mail(
            "Carebridge: the EHR sent another patient's records",
            f"A sync of patient {patient.pk} received resources about a different patient "
            f"({counts}). They were dropped, not stored; each is a high-severity event in the "
            "audit trail (records.foreign_resource). Check the EHR's patient matching.\n",
            None,
            [settings.PORTAL_PRIVACY_OFFICER_EMAIL],
        )


def _incremental_from(patient: Patient, resource_type: str):
    """(the high-water mark, whether this sync must be complete instead of incremental).

    Complete when nothing is stored yet, and every FHIR_COMPLETE_SYNC_INTERVAL:
    only a complete listing shows what the EHR has deleted.
    """
    state = SyncState.objects.filter(patient=patient, resource_type=resource_type).first()
    if state is None or state.high_water is None or state.last_complete_at is None:
        return None, True
    due = timezone.now() - state.last_complete_at > timedelta(
        seconds=settings.FHIR_COMPLETE_SYNC_INTERVAL
    )
    return state.high_water, due


def is_stale(patient: Patient) -> bool:
    synced = selectors.last_synced(patient=patient, types=SYNCED_TYPES)
    return synced is None or timezone.now() - synced > timedelta(
        seconds=settings.FHIR_SYNC_STALE_AFTER
    )


def request_sync(*, patient: Patient, actor: Any, reason: SyncReason | str) -> bool:
    """Queue a sync of ``patient``; False when Refresh was pressed too recently.

    Raises SyncUnavailable when there is no EHR to sync from. The request is
    audited (object_type = the reason); a refused Refresh too, as DENIED.
    """
    reason = SyncReason(reason)
    if not configured() or not patient.fhir_id:
        raise SyncUnavailable("no EHR configured" if not configured() else "patient not linked")
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        now = timezone.now()
        interval = timedelta(seconds=settings.FHIR_REFRESH_INTERVAL)
        if (
            reason == SyncReason.REFRESH
            and locked.sync_requested_at
            and now - locked.sync_requested_at < interval
        ):
            record(
                action=Action.RECORDS_SYNC_REQUEST,
                outcome=Outcome.DENIED,
                actor=actor,
                patient_id=patient.pk,
                object_type=reason,
            )
            return False
        locked.sync_requested_at = now
        locked.save(update_fields=["sync_requested_at"])
        try:
            with transaction.atomic():  # a savepoint: the lock's unique violation stays in it
                lock = f"sync:{patient.pk}"
                app.configure_task(
                    SYNC_JOB, allow_unknown=False, lock=lock, queueing_lock=lock
                ).defer(patient_id=str(patient.pk))
        except procrastinate_exceptions.AlreadyEnqueued:
            pass  # a sync of this patient is already waiting; it will fetch the same
        record(
            action=Action.RECORDS_SYNC_REQUEST,
            actor=actor,
            patient_id=patient.pk,
            object_type=reason,
        )
    return True


def sync_at_sign_in(sender: Any, *, user: Any, **kwargs: Any) -> None:
    """Receiver of accounts' second_factor_verified: a patient's or proxy's sign-in queues a
    sync of each stale record they may open (their own, and those they act for)."""
    if user.role in PATIENT_SIDE_ROLES:
        # Queued, not awaited: the sign-in answers at once.
        for patient in clinical_patients(user).order_by("created_at"):
            sync_on_sign_in(patient=patient, actor=user)


def sync_on_sign_in(*, patient: Patient | None, actor: Any) -> bool:
    """At a patient's sign-in: queue a sync if there is an EHR and the data is stale."""
    if patient is None or not configured() or not patient.fhir_id or not is_stale(patient):
        return False
    return request_sync(patient=patient, actor=actor, reason=SyncReason.SIGN_IN)
