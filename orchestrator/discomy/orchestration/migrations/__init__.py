"""The store's schema migrations (Alembic), shipped in the package.

:func:`upgrade` applies them programmatically: the Alembic configuration is
built in code (no ``alembic.ini``) and the migrations run on the caller's
connection, so SQLite files and PostgreSQL databases are brought to the
current schema the same way, at every start.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def upgrade(engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` (a SQLAlchemy Engine) to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine):
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
