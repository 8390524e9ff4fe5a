"""What the database really holds, column by column, for tests that look for leaked secrets."""

from django.db import connection


def every_stored_value() -> str:
    """Every column of every table, as the database stores it (ciphertext, hashes, plain values)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)
