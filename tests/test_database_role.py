"""The suite runs as the portal would on a managed database: a role without superuser
rights, so nothing here leans on a power production does not have (switching the
replication role, bypassing row security, ALTER SYSTEM)."""

from django.db import connection


def test_the_suite_runs_as_a_role_that_is_no_superuser(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls, rolcreatedb"
            " FROM pg_roles WHERE rolname = current_user"
        )
        superuser, createrole, replication, bypassrls, createdb = cursor.fetchone()
    assert (superuser, createrole, replication, bypassrls) == (False, False, False, False)
    assert createdb  # the one right beyond its own database: test and benchmark databases
