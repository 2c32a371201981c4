"""Inserting many new PHI rows at once with PostgreSQL's COPY, sealed as ``save()`` would.

``bulk_create`` of a batch of rows with two encrypted JSON fields spends most
of its time outside the database: compiling one multi-row INSERT, preparing
each parameter, and psycopg's client-side quoting of every ciphertext into
the SQL text. ``COPY … FROM STDIN`` sends the same values as a stream of
rows, with none of that per-parameter work.

The values are exactly what ``bulk_create`` would write: each field's
``pre_save(row, add=True)`` then ``get_db_prep_save()``, so an encrypted field
seals its value under the row's patient key with the same associated data
(model label, field name, row id) through ``EncryptedField.pre_save``, and
``tests/portal/crypto/test_fields.py`` proves a copied row reads back through
the ORM and refuses a ciphertext moved to another row.
"""

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from portal.crypto.models import PHIModel


def copy_insert_sealed(rows: Sequence[PHIModel], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """``bulk_create(rows)`` for new rows of one PHI model, by COPY; returns the count.

    Every concrete field is written (the primary key is the UUID each row
    already has). No signals are sent, as with ``bulk_create``; a conflict
    (an existing primary key or unique value) raises IntegrityError and
    nothing of the batch is written. The instances keep their plaintext.
    """
    if not rows:
        return 0
    model = type(rows[0])
    if any(type(row) is not model for row in rows):
        raise TypeError("copy_insert_sealed writes rows of one model")
    if model._meta.parents:
        raise TypeError("copy_insert_sealed writes one table: not a multi-table child model")
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotImplementedError("COPY is PostgreSQL's")
    fields = list(model._meta.local_concrete_fields)
    quote = connection.ops.quote_name
    sql = (
        f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        "FROM STDIN"
    )
    for row in rows:
        if row.pk is None:
            raise ValueError("copy_insert_sealed needs each row's primary key (PHIModel sets one)")
    with transaction.atomic(using=using, savepoint=False):
        # Sealed before the COPY starts: the first value of a patient may need a
        # query for the key, and no other query can run on the connection during COPY.
        values = [
            [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields] for row in rows
        ]
        # cursor.cursor: psycopg's own cursor (Django's wrapper has no copy()).
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row_values in values:
                copy.write_row(row_values)
    for row in rows:
        row._state.adding = False
        row._state.db = using
    return len(rows)
