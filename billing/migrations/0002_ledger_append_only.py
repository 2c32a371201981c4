"""The ledger refuses UPDATE, DELETE and TRUNCATE, whoever asks (as the audit tables do):
a correction is a new entry. Only a superuser or the table's owner gets past it; the
production role is neither."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the billing ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER billing_ledgerentry_append_only BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_refuse_change();
CREATE TRIGGER billing_ledgerentry_no_truncate BEFORE TRUNCATE ON billing_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_refuse_change();
"""

REVERSE = """
DROP TRIGGER billing_ledgerentry_append_only ON billing_ledgerentry;
DROP TRIGGER billing_ledgerentry_no_truncate ON billing_ledgerentry;
DROP FUNCTION billing_ledger_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
