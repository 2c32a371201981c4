"""What backup and restore say when a PostgreSQL tool fails: ids and names, no row values."""

from portal.backup.database import _tool_errors


def test_tool_errors_drop_the_lines_that_can_quote_row_values():
    raw = (
        b"pg_restore: error: could not execute query: ERROR:  duplicate key value\n"
        b"DETAIL:  Key (email)=(alice@example.org) already exists.\n"
        b"CONTEXT:  COPY accounts_user, line 1\n"
        b"Command was: COPY public.accounts_user (id, email) FROM stdin;\n"
    )
    shown = _tool_errors(raw)
    assert "duplicate key value" in shown
    assert "alice" not in shown
