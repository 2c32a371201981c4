"""The audit tables refuse UPDATE, DELETE and TRUNCATE, whoever asks.

Only a superuser (who can switch triggers off) or the tables' owner (who can
drop them) gets past this; production runs the portal as a role that is
neither, so the application cannot rewrite its own history.
"""

from django.db import migrations

TABLES = ("audit_event", "audit_seal")

FUNCTION = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TRIGGERS = "".join(
    f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""
    for table in TABLES
)

REVERSE = (
    "".join(
        f"DROP TRIGGER {table}_append_only ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
        for table in TABLES
    )
    + "DROP FUNCTION audit_refuse_change();"
)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(FUNCTION + TRIGGERS, REVERSE)]
