"""Alembic environment: uses the connection handed over by `provenance.ledger.migrate`."""

from alembic import context
from sqlalchemy import create_engine

from provenance.ledger.models import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("alembic: no sqlalchemy.url and no connection given")
        engine = create_engine(url)
        with engine.begin() as connection:
            _migrate(connection)
    else:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
