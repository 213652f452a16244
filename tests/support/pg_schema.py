"""A PostgreSQL schema of its own for a test session, a test or a benchmark run: parallel runs
never meet, and everything in it is dropped at the end."""
from __future__ import annotations

import contextlib
import os
import secrets
from typing import Iterator

from sqlalchemy import create_engine, make_url, text


def with_schema(url: str, schema: str) -> str:
    """The URL whose connections work in `schema` (search_path)."""
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_schema(base_url: str, prefix: str) -> Iterator[str]:
    """Creates the schema <prefix>_<pid>_<random> on base_url and yields the URL that uses it;
    drops it (CASCADE) on the way out. Failing to create it raises the driver's error."""
    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except BaseException:
        admin.dispose()
        raise
    try:
        yield with_schema(base_url, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
