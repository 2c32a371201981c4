"""Signed checkpoints make a truncated tail visible to verify_audit."""

from datetime import timedelta

import pytest
from django.core.checks import Error
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from audit import chain, services
from audit.actions import Action
from audit.checks import check_audit_signing_key
from audit.models import AuditCheckpoint
from portal.crypto import signing
from tests.conftest import APPEND_ONLY_TABLES


def an_event():
    return services.record(action=Action.LOGIN)


def as_table_owner(*statements: tuple[str, list]):
    """The append-only triggers off, in one transaction: what the tables' owner could do."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(APPEND_ONLY_TABLES)
        tables = [name for (name,) in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys hold: checked now
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')


def cut_tail(events, keep: int):
    gone = [e.pk for e in events[keep:]]
    as_table_owner(
        ("DELETE FROM audit_seal WHERE event_id = ANY(%s)", [gone]),
        ("DELETE FROM audit_event WHERE id = ANY(%s)", [gone]),
    )


def test_it_signs_the_chain_head(committed):
    events = [an_event() for _ in range(3)]
    checkpoint = services.checkpoint_create()
    assert checkpoint.seq == len(events)
    assert checkpoint.key_id == signing.key_id(signing.current_public_key())
    verdict = chain.verify()
    assert (verdict.ok, verdict.checkpoints) == (True, 1)


def test_it_makes_no_checkpoint_of_an_empty_chain(committed):
    assert services.checkpoint_create() is None
    assert not AuditCheckpoint.objects.exists()


def test_verify_audit_notices_a_truncated_tail_once_a_checkpoint_covered_it(committed):
    events = [an_event() for _ in range(5)]
    services.checkpoint_create()
    cut_tail(events, keep=3)
    verdict = chain.verify()
    assert not verdict.ok
    assert verdict.broken_seq == 5
    assert "removed from its tail" in verdict.problem
    with pytest.raises(CommandError, match="removed from its tail"):
        call_command("verify_audit")


def test_it_cannot_see_a_truncation_no_checkpoint_covered_yet(committed):
    """The limit, stated: events after the newest checkpoint are protected by the next one."""
    events = [an_event() for _ in range(3)]
    services.checkpoint_create()
    events += [an_event() for _ in range(2)]
    cut_tail(events, keep=3)
    assert chain.verify().ok


def test_it_notices_a_chain_rewritten_up_to_a_checkpoint(committed):
    events = [an_event() for _ in range(3)]
    services.checkpoint_create()
    # Re-chain from the genesis after editing an event: every seal is consistent again,
    # but the rewritten head no longer matches the signed one.
    as_table_owner(
        ("UPDATE audit_event SET outcome = 'failure' WHERE id = %s", [events[1].pk]),
        ("DELETE FROM audit_seal", []),
    )
    chain.seal_pending()
    verdict = chain.verify()
    assert not verdict.ok
    assert "differs from signed checkpoint" in verdict.problem


def test_it_refuses_a_checkpoint_whose_signature_does_not_match(committed):
    for _ in range(3):
        an_event()
    checkpoint = services.checkpoint_create()
    as_table_owner(("UPDATE audit_checkpoint SET seq = 2 WHERE id = %s", [checkpoint.pk]))
    verdict = chain.verify()
    assert not verdict.ok
    assert f"checkpoint {checkpoint.pk} has no valid signature" in verdict.problem


def test_it_refuses_a_checkpoint_signed_with_another_key(committed, settings):
    an_event()
    services.checkpoint_create()
    settings.AUDIT_SIGNING_KEY = signing.generate_private_pem().decode()
    assert "no valid signature" in chain.verify().problem


def test_it_keeps_old_checkpoints_verifiable_after_the_key_rotates(committed, settings):
    an_event()
    services.checkpoint_create()
    old_public = signing.public_text(signing.current_public_key())
    settings.AUDIT_SIGNING_KEY = signing.generate_private_pem().decode()
    settings.AUDIT_OLD_PUBLIC_KEYS = [old_public]
    an_event()
    services.checkpoint_create()
    assert chain.verify().checkpoints == 2


def test_it_refuses_change_to_a_checkpoint(committed):
    an_event()
    services.checkpoint_create()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.update(seq=0)


def test_it_reports_a_stale_checkpoint_when_asked_to(committed, settings, time_machine):
    an_event()
    services.checkpoint_create()
    settings.AUDIT_CHECKPOINT_MAX_AGE = 600
    assert chain.verify().ok
    time_machine.move_to(timezone.now() + timedelta(seconds=601))
    assert "older than 600 s" in chain.verify().problem


def test_audit_checkpoint_command_prints_the_signed_head(committed, capsys):
    an_event()
    call_command("audit_checkpoint")
    assert "position 1" in capsys.readouterr().out


def test_production_without_a_signing_key_fails_the_deploy_check(settings):
    settings.PRODUCTION = True
    settings.AUDIT_SIGNING_KEY = ""
    assert [e.id for e in check_audit_signing_key()] == ["audit.E001"]
    settings.AUDIT_SIGNING_KEY = "not a key"
    errors = check_audit_signing_key()
    assert [e.id for e in errors] == ["audit.E002"]
    assert all(isinstance(e, Error) for e in errors)
