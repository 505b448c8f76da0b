"""Alembic environment: runs on the connection handed over by discomy.orchestration.migrations.upgrade."""

from alembic import context

from discomy.orchestration.store import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("discomy migrations run through discomy.orchestration.migrations.upgrade(engine)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
