"""kill -9 of the worker in the middle of a job: the job is queued again (portal.tasks,
the stalled-job sweep) and run once more by another worker, and nothing is doubled.

Each test makes the job stop at a known write (another session holds a lock on the table
it writes next), kills the real worker process there with SIGKILL, lets the lock go,
starts a new worker and runs the sweep as the periodic job would.
"""

import contextlib
import datetime as dt
import time

import pytest
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.exceptions import AlreadyEnqueued

from appointments import tasks as appointment_tasks
from appointments.models import Appointment
from billing.models import Installment, LedgerEntry
from billing.services import statement_balance
from portal.tasks import RETRY_STALLED
from records.models import FhirRecord
from records.sync import request_sync
from tests.appointments import builders
from tests.billing.conftest import event
from tests.billing.test_plans import _plan_on_localstripe
from tests.faults.conftest import STALLED_AFTER, sql_value, wait_for
from tests.records import resources as r

PATIENT_ID = "faults-sync-patient"
JOB_TIMEOUT = 30  # s for a (re)started worker to finish the job


def job_status(task_name: str, **args: object) -> list[tuple[str, int]]:
    """(status, attempts) of the task's jobs, or of those with these arguments."""
    jobs = ProcrastinateJob.objects.filter(task_name=task_name)
    for name, value in args.items():
        jobs = jobs.filter(**{f"args__{name}": value})
    return list(jobs.order_by("id").values_list("status", "attempts"))


def kill_at_the_lock(workers, worker, table_lock) -> None:
    """The worker waits on the test's lock: kill it there, then let the lock go."""
    wait_for(lambda: table_lock.waiters() > 0, JOB_TIMEOUT, "the job to reach the locked write")
    workers.kill(worker)
    table_lock.release()


def restart_and_sweep(workers, queues: str, **env: str) -> None:
    """A new worker, once the killed one is silent for longer than the stalled timeout;
    then the sweep, queued as its periodic schedule would (at most once)."""
    time.sleep(STALLED_AFTER + 1)
    workers.start(queues, **env)
    # AlreadyEnqueued: the new worker's periodic deferrer was first.
    with contextlib.suppress(AlreadyEnqueued):
        app.configure_task(RETRY_STALLED, queueing_lock=RETRY_STALLED).defer(timestamp=0)


def finished(task_name: str):
    return lambda: (
        job_status(task_name)
        and all(status in ("succeeded", "failed") for status, _ in job_status(task_name))
    )


@pytest.fixture
def ehr_env(ehr_server):
    smart = ehr_server.smart_config()
    return {
        "FHIR_BASE_URL": ehr_server.base_url,
        "FHIR_CA_BUNDLE": str(ehr_server.ca_bundle),
        "FHIR_CLIENT_ID": smart.client_id,
        "FHIR_PRIVATE_KEY_FILE": str(smart.private_key_file),
        "FHIR_KEY_ID": smart.key_id,
        "FHIR_SCOPE": smart.scope,
    }


def test_a_sync_killed_mid_write_is_retried_and_stores_each_record_once(
    workers,
    table_lock,
    settings,
    ehr_server,
    ehr_env,
    alice,
):
    ehr_server.load(
        [
            {"resourceType": "Patient", "id": PATIENT_ID, "active": True},
            r.lab("faults-lab-1", patient=PATIENT_ID),
            r.lab("faults-lab-2", patient=PATIENT_ID),
            r.condition("faults-cond-1", patient=PATIENT_ID),
        ]
    )
    for name, value in ehr_env.items():
        setattr(settings, name, value)
    alice.patient.fhir_id = PATIENT_ID
    alice.patient.save()
    assert request_sync(patient=alice.patient, actor=alice, reason="sign_in")

    table_lock.hold(FhirRecord._meta.db_table)
    first = workers.start("sync,daily", **ehr_env)
    kill_at_the_lock(workers, first, table_lock)
    assert job_status("records.sync_patient") == [("doing", 0)]

    restart_and_sweep(workers, "sync,daily", **ehr_env)
    wait_for(finished("records.sync_patient"), JOB_TIMEOUT, "the retried sync")

    assert job_status("records.sync_patient") == [("succeeded", 2)]  # killed once, then done
    stored = list(
        FhirRecord.objects.filter(patient=alice.patient).values_list("resource_type", "fhir_id")
    )
    assert sorted(stored) == [
        ("Condition", "faults-cond-1"),
        ("Observation", "faults-lab-1"),
        ("Observation", "faults-lab-2"),
    ]


def test_a_reminder_run_killed_mid_run_is_retried_and_reminds_each_visit_once(
    workers, table_lock, shared_dirs, clinic_and_carol, alice
):
    place, kind, carol = clinic_and_carol
    soon = timezone.now() + dt.timedelta(hours=10)
    booked = [
        Appointment.objects.create(
            patient=alice.patient,
            clinician=carol,
            location=place,
            visit_type=kind,
            starts_at=soon + dt.timedelta(hours=i),
            ends_at=soon + dt.timedelta(hours=i, minutes=30),
            blocked_until=soon + dt.timedelta(hours=i, minutes=30),
            booked_by=alice,
        )
        for i in range(2)
    ]
    # timestamp 0: this test's run (a worker also queues the periodic one of its 5 minutes).
    appointment_tasks.queue_reminders.defer(timestamp=0)

    # The run takes an appointment's row, marks it and queues its mail in one
    # transaction: stopped at the marking (the table locked against writes, not against
    # the row lock), killed there, inside that transaction. (A kill after the commit of
    # one appointment: tests/appointments/test_reminders.py.)
    table_lock.hold(Appointment._meta.db_table)
    first = workers.start("mail,daily")
    kill_at_the_lock(workers, first, table_lock)
    assert job_status("appointments.queue_reminders", timestamp=0) == [("doing", 0)]

    restart_and_sweep(workers, "mail,daily")
    wait_for(finished("appointments.queue_reminders"), JOB_TIMEOUT, "the retried run")
    wait_for(finished("appointments.send_reminder"), JOB_TIMEOUT, "the reminders")

    assert job_status("appointments.queue_reminders", timestamp=0) == [
        ("succeeded", 2)
    ]  # killed once, then done
    assert sorted(
        sql_value(
            "SELECT array_agg(args->>'appointment_id') FROM procrastinate_jobs "
            "WHERE task_name = 'appointments.send_reminder'"
        )
    ) == sorted(str(a.pk) for a in booked)
    var_dir, _ = shared_dirs
    mails = [p.read_text() for p in (var_dir / "mail").glob("*.log")]
    reminders = [m for m in mails if appointment_tasks.SUBJECT in m]
    assert len(reminders) == 2  # one per appointment, none twice
    assert all(alice.email in m for m in reminders)


def test_an_installment_charge_killed_after_stripe_answered_posts_one_payment(
    workers,
    table_lock,
    localstripe,
    deliver,
    statement,
    alice,
):
    plan, completed = _plan_on_localstripe(statement, alice)
    deliver(event("checkout.session.completed", completed))
    first_due = Installment.objects.get(plan=plan, number=1)
    assert first_due.due_on <= timezone.localdate()
    stripe_env = {
        "STRIPE_SECRET_KEY": "sk_test_carebridge",
        "STRIPE_API_BASE": localstripe,
    }
    app.configure_task("billing.charge_installments").defer(timestamp=0)

    # Stripe has charged the card; the ledger entry is next: killed there, uncommitted.
    table_lock.hold(LedgerEntry._meta.db_table)
    first = workers.start("mail,daily", **stripe_env)
    kill_at_the_lock(workers, first, table_lock)
    assert job_status("billing.charge_installments") == [("doing", 0)]
    assert LedgerEntry.objects.filter(kind="payment").count() == 0

    restart_and_sweep(workers, "mail,daily", **stripe_env)
    wait_for(finished("billing.charge_installments"), JOB_TIMEOUT, "the retried charge")

    assert job_status("billing.charge_installments") == [("succeeded", 2)]  # killed once, then done
    payments = LedgerEntry.objects.filter(kind="payment")
    assert [p.amount for p in payments] == [-10_000]
    installment = Installment.objects.get(pk=first_due.pk)
    # The retry is the same try (its increment died with the killed transaction), so it
    # sent Stripe the same idempotency key: one charge at Stripe too.
    assert (installment.status, installment.tries) == ("paid", 1)
    assert installment.payment_intent == payments[0].payment_intent
    assert statement_balance(statement) == 15_000
    assert len(job_status("billing.send_receipt")) == 1


@pytest.fixture
def clinic_and_carol(carol):
    place = builders.location()
    kind = builders.visit_type()
    builders.weekdays(carol, place, kind)
    return place, kind, carol


def test_the_sweep_leaves_the_running_job_of_a_live_worker_alone(
    workers, table_lock, clinic_and_carol, alice
):
    place, kind, carol = clinic_and_carol
    soon = timezone.now() + dt.timedelta(hours=10)
    Appointment.objects.create(
        patient=alice.patient,
        clinician=carol,
        location=place,
        visit_type=kind,
        starts_at=soon,
        ends_at=soon + dt.timedelta(minutes=30),
        blocked_until=soon + dt.timedelta(minutes=30),
        booked_by=alice,
    )
    appointment_tasks.queue_reminders.defer(timestamp=0)
    table_lock.hold(Appointment._meta.db_table)
    workers.start("mail,daily", concurrency=2)  # one slot waits on the lock, one sweeps
    wait_for(lambda: table_lock.waiters() > 0, JOB_TIMEOUT, "the job to reach the lock")
    time.sleep(STALLED_AFTER + 1)  # a long job, longer than the stalled timeout

    with contextlib.suppress(AlreadyEnqueued):
        app.configure_task(RETRY_STALLED, queueing_lock=RETRY_STALLED).defer(timestamp=0)
    wait_for(finished(RETRY_STALLED), JOB_TIMEOUT, "the sweep")

    # Its worker's heartbeat is fresh: the job is still running, not queued a second time.
    assert job_status("appointments.queue_reminders", timestamp=0) == [("doing", 0)]
    table_lock.release()
    wait_for(finished("appointments.queue_reminders"), JOB_TIMEOUT, "the reminder run")
    assert job_status("appointments.queue_reminders", timestamp=0) == [("succeeded", 1)]


def sweep() -> None:
    with contextlib.suppress(AlreadyEnqueued):
        app.configure_task(RETRY_STALLED, queueing_lock=RETRY_STALLED).defer(timestamp=0)


def test_a_killed_job_whose_twin_waits_is_queued_again_after_the_twin(
    workers, table_lock, shared_dirs, clinic_and_carol, alice
):
    place, kind, carol = clinic_and_carol
    soon = timezone.now() + dt.timedelta(hours=10)
    Appointment.objects.create(
        patient=alice.patient,
        clinician=carol,
        location=place,
        visit_type=kind,
        starts_at=soon,
        ends_at=soon + dt.timedelta(minutes=30),
        blocked_until=soon + dt.timedelta(minutes=30),
        booked_by=alice,
    )
    # A queueing lock, as a patient's sync has: at most one of them waits.
    run = app.configure_task("appointments.queue_reminders", queueing_lock="faults-twin")
    run.defer(timestamp=0)
    table_lock.hold(Appointment._meta.db_table)
    killed = workers.start("mail")
    kill_at_the_lock(workers, killed, table_lock)
    run.defer(timestamp=1)  # the twin: allowed, the first is no longer waiting

    time.sleep(STALLED_AFTER + 1)
    workers.start("daily")  # sweeps, runs no reminders
    sweep()
    wait_for(finished(RETRY_STALLED), JOB_TIMEOUT, "the sweep")
    # The twin did not make it fail (a periodic sweep may have run too).
    assert {status for status, _ in job_status(RETRY_STALLED)} == {"succeeded"}
    assert job_status("appointments.queue_reminders", timestamp=0) == [("doing", 0)]

    workers.start("mail")  # the twin runs, then a later sweep queues the killed one
    wait_for(
        lambda: job_status("appointments.queue_reminders", timestamp=1) == [("succeeded", 1)],
        JOB_TIMEOUT,
        "the twin",
    )
    sweep()
    wait_for(finished("appointments.queue_reminders"), JOB_TIMEOUT, "the killed run, retried")
    assert job_status("appointments.queue_reminders", timestamp=0) == [("succeeded", 2)]
    wait_for(finished("appointments.send_reminder"), JOB_TIMEOUT, "the reminder")
    assert len(job_status("appointments.send_reminder")) == 1  # one visit, one reminder
