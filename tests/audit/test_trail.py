"""The audit trail is append-only in the database and tamper-evident by its hash chain."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.utils import DatabaseError

from audit import chain
from audit.actions import Action, Outcome
from audit.models import AuditEvent, AuditSeal
from audit.services import record


def raw(sql: str, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def an_event(**fields) -> AuditEvent:
    return record(action=Action.LOGIN, **fields)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET outcome = 'success' WHERE id = %s",
        "DELETE FROM audit_event WHERE id = %s",
        "TRUNCATE audit_event CASCADE",
    ],
)
def test_it_refuses_to_change_or_remove_audit_rows(db, statement):
    event = an_event(outcome=Outcome.FAILURE)
    with pytest.raises(DatabaseError, match="append-only"):
        raw(statement, [event.pk] if "%s" in statement else [])
    assert AuditEvent.objects.get(pk=event.pk).outcome == Outcome.FAILURE


def test_it_refuses_to_change_a_seal(committed):
    an_event()
    chain.seal_pending()
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE audit_seal SET hash = %s", [bytes(32)])
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM audit_seal")


def test_it_stores_ids_and_codes_only(db, alice):
    event = record(action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, actor=alice)
    assert (event.actor_id, event.actor_role, event.outcome) == (alice.pk, "patient", "denied")
    assert event.xid > 0


def test_it_chains_committed_events_in_order(committed):
    first, second, third = an_event(), an_event(), an_event()
    chain.seal_pending()
    seals = list(AuditSeal.objects.order_by("seq"))
    assert [s.event_id for s in seals] == [first.pk, second.pk, third.pk]
    assert bytes(seals[0].prev_hash) == chain.GENESIS
    assert bytes(seals[1].prev_hash) == bytes(seals[0].hash)
    assert chain.seal_pending() == 0  # nothing twice


def test_it_waits_for_a_transaction_still_running_before_sealing_past_it(committed):
    started, release, done = threading.Event(), threading.Event(), threading.Event()
    slow_ids = []

    def slow_writer():
        try:
            with transaction.atomic():
                slow_ids.append(an_event().pk)
                started.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    worker = threading.Thread(target=slow_writer)
    worker.start()
    assert started.wait(10)
    fast = an_event()  # commits at once, after the slow one began
    chain.seal_pending()
    # Sealing past a running writer could skip its event for good.
    assert not AuditSeal.objects.exists()
    release.set()
    assert done.wait(10)
    worker.join()
    chain.seal_pending()
    order = list(AuditSeal.objects.order_by("seq").values_list("event_id", flat=True))
    assert order == [slow_ids[0], fast.pk]
    assert chain.verify().ok


def test_it_never_seals_a_rolled_back_event(committed):
    def failing_change():
        with transaction.atomic():
            an_event()
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    kept = an_event()
    chain.seal_pending()
    assert list(AuditSeal.objects.values_list("event_id", flat=True)) == [kept.pk]
    assert chain.verify().ok


def test_verify_audit_reports_an_intact_chain(committed, capsys):
    for _ in range(5):
        an_event()
    call_command("verify_audit")
    assert "Audit chain intact: 5 events verified" in capsys.readouterr().out


def _tamper(sql: str, params=()):
    """What an attacker with owner rights could do: switch the guard off, edit, switch on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")


def test_verify_audit_names_the_first_edited_event(committed):
    events = [an_event(outcome=Outcome.FAILURE) for _ in range(4)]
    chain.seal_pending()
    _tamper("UPDATE audit_event SET outcome = 'success' WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError, match=f"broken at event {events[2].pk} "):
        call_command("verify_audit")
    verdict = chain.verify()
    assert (verdict.ok, verdict.verified, verdict.problem) == (
        False,
        2,
        "its content does not match its seal",
    )


def test_verify_audit_notices_a_deleted_event(committed):
    events = [an_event() for _ in range(3)]
    chain.seal_pending()
    with transaction.atomic(), connection.cursor() as cursor:
        # What the tables' owner could do: switch the append-only triggers off.
        cursor.execute("ALTER TABLE audit_seal DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_seal WHERE event_id = %s", [events[1].pk])
        cursor.execute("DELETE FROM audit_event WHERE id = %s", [events[1].pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys hold: checked now
        cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audit_seal ENABLE TRIGGER USER")
    verdict = chain.verify()
    assert not verdict.ok
    assert verdict.broken_seq == 2


def test_verify_audit_notices_an_event_slipped_in_behind_the_chain(committed):
    an_event()
    an_event()
    chain.seal_pending()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_event (occurred_at, action, outcome, severity, actor_role,"
            " object_type, object_id, request_id, reason, xid)"
            " VALUES (now(), 'login', 'success', 'info', '', '', '', '', '', 1) RETURNING id"
        )
        forged = cursor.fetchone()[0]
    verdict = chain.verify()
    assert (verdict.ok, verdict.broken_event_id) == (False, forged)


@pytest.fixture
def no_recent_attempt(monkeypatch):
    """This process has not tried to seal lately (other tests' commits may have)."""
    monkeypatch.setattr(chain, "_last_attempt", float("-inf"))


def test_it_seals_after_commit_without_being_asked(committed, no_recent_attempt):
    with transaction.atomic():
        event = an_event()
        assert not AuditSeal.objects.filter(event=event).exists()
    assert AuditSeal.objects.filter(event=event).exists()


def test_it_tries_at_most_once_per_interval_and_the_job_seals_the_rest(
    committed, no_recent_attempt, settings
):
    settings.AUDIT_SEAL_INTERVAL_MS = 60_000
    first = an_event()  # autocommit: sealed after its commit
    later = [an_event() for _ in range(3)]  # within the interval: no attempt, no queries
    assert AuditSeal.objects.filter(event=first).exists()
    assert not AuditSeal.objects.filter(event__in=later).exists()

    from audit.tasks import seal

    seal(timestamp=0)  # the worker's minute job
    sealed = AuditSeal.objects.order_by("seq").values_list("event_id", flat=True)
    assert list(sealed) == [first.pk, *(e.pk for e in later)]
    assert chain.verify().ok


def test_an_interval_of_zero_seals_after_every_commit(committed, no_recent_attempt, settings):
    settings.AUDIT_SEAL_INTERVAL_MS = 0
    events = [an_event() for _ in range(3)]
    assert AuditSeal.objects.filter(event__in=events).count() == 3


def test_the_checkpoint_job_seals_and_signs_the_head(committed, settings):
    settings.AUDIT_SEAL_INTERVAL_MS = 60_000
    event = an_event()
    from audit.models import AuditCheckpoint
    from audit.tasks import checkpoint

    checkpoint(timestamp=0)
    head = AuditCheckpoint.objects.get()
    assert head.seq == AuditSeal.objects.get(event=event).seq


def test_it_is_not_held_up_by_a_transaction_in_another_database(committed):
    import psycopg

    params = connection.settings_dict
    other = psycopg.connect(
        dbname="postgres",
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"],
    )
    try:
        other.execute("SELECT pg_current_xact_id()")  # a write transaction, left open
        event = an_event()
        chain.seal_pending()
        assert AuditSeal.objects.filter(event=event).exists()
    finally:
        other.rollback()
        other.close()
