"""The ledger: balances are sums of immutable entries; the import is all or nothing."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.actions import Action
from billing.models import LedgerEntry, LineItem, Statement
from billing.services import ledger_post, statement_balance
from tests.audit_helpers import events


def test_it_issues_a_statement_with_a_charge_of_the_patients_share(statement, alice, bill):
    (charge,) = LedgerEntry.objects.filter(statement=statement)
    assert (charge.kind, charge.amount, charge.currency) == ("charge", 25_000, "usd")
    assert statement_balance(statement) == 25_000
    (issued,) = events(Action.BILL_STATEMENT_ISSUE)
    assert (issued.actor_id, issued.patient_id) == (bill.pk, alice.patient_id)


def test_it_keeps_line_item_descriptions_encrypted(statement):
    with connection.cursor() as cursor:
        cursor.execute("SELECT description FROM billing_lineitem")
        stored = b"".join(bytes(row[0]) for row in cursor.fetchall())
    assert b"MRI" not in stored
    assert b"73721" not in stored
    assert "MRI" in LineItem.objects.filter(statement=statement).first().description


def _run(sql: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Check the deferred foreign keys now, or TRUNCATE refuses for that reason.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE billing_ledgerentry SET amount = 0",
        "DELETE FROM billing_ledgerentry",
        "TRUNCATE billing_ledgerentry CASCADE",
    ],
)
def test_it_refuses_to_change_or_delete_ledger_rows(statement, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        _run(sql)
    assert statement_balance(statement) == 25_000


def test_it_corrects_with_a_new_entry_and_an_audit_event(statement):
    with transaction.atomic():
        ledger_post(statement=statement, kind="adjustment", amount=-2_500, reason="Goodwill")
    assert statement_balance(statement) == 22_500
    assert len(events(Action.BILL_ADJUSTMENT)) == 1


def test_it_posts_one_stripe_object_once(statement):
    with transaction.atomic():
        first = ledger_post(statement=statement, kind="payment", amount=-1_000, stripe_id="pi_1")
        again = ledger_post(statement=statement, kind="payment", amount=-1_000, stripe_id="pi_1")
    assert first is not None
    assert again is None
    assert statement_balance(statement) == 24_000
    assert len(events(Action.BILL_PAYMENT)) == 1


CSV_HEADER = (
    "mrn,statement,due_on,currency,service_date,description,charge,insurance_paid,"
    "adjustment,patient_responsibility\n"
)


def test_it_imports_statements_from_a_csv(tmp_path, alice, alice_mrn):
    path = tmp_path / "export.csv"
    path.write_text(
        CSV_HEADER
        + "MRN-1,PM-100,2026-12-31,USD,2026-10-02,Office visit,150.00,100.00,10.00,40.00\n"
        + "MRN-1,PM-100,2026-12-31,USD,2026-10-03,Lab panel,20.50,0,0,20.50\n"
        + "MRN-1,PM-101,2027-01-31,USD,2026-11-02,Office visit,80,60,0,20\n"
    )
    call_command("import_statements", str(path))
    first = Statement.objects.get(number="PM-100")
    assert statement_balance(first) == 6_050
    assert first.items.count() == 2
    assert statement_balance(Statement.objects.get(number="PM-101")) == 2_000
    assert len(events(Action.BILL_STATEMENT_IMPORT)) == 2


def test_it_reports_malformed_rows_by_line_and_writes_nothing(tmp_path, alice, alice_mrn, capsys):
    path = tmp_path / "export.csv"
    path.write_text(
        CSV_HEADER
        + "MRN-1,PM-200,2026-12-31,USD,2026-10-02,Office visit,150.00,100.00,10.00,40.00\n"
        + "MRN-1,PM-201,2026-12-31,USD,2026-10-02,Office visit,1.005,0,0,1.005\n"
        + "MRN-9,PM-202,2026-12-31,USD,2026-10-02,Office visit,10,0,0,10\n"
        + "MRN-1,PM-203,someday,USD,2026-10-02,Office visit,10,0,0,10\n"
        + "MRN-1,PM-204,2026-12-31,USD,2026-10-02,Office visit,10,0,0,9\n"
    )
    with pytest.raises(CommandError, match="4 malformed rows"):
        call_command("import_statements", str(path))
    err = capsys.readouterr().err
    for expected in ("line 3:", "line 4: no patient", "line 5:", "line 6: patient_resp"):
        assert expected in err
    assert "line 2" not in err
    assert not Statement.objects.exists()
    assert not events(Action.BILL_STATEMENT_IMPORT)
