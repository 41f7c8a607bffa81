"""Alembic environment. The version table lives in schema `skene`, so the app's own
`public.alembic_version` is never read or written."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

VERSION_TABLE = "alembic_version"
SCHEMA = "skene"

url = context.config.get_main_option("sqlalchemy.url")
# Role names from skene.yaml, for migrations that create skene's roles (0007: the capture role).
# A plain session setting, so the same SQL works online and as `migrate --sql` output.
ROLES = context.config.attributes.get("skene_roles", {})


def role_settings() -> list[str]:
    return [f"SET skene.{k}_role = '{v}'" for k, v in sorted(ROLES.items())]


def run_offline() -> None:
    context.configure(url=url, literal_binds=True, version_table=VERSION_TABLE,
                      version_table_schema=SCHEMA, transaction_per_migration=False)
    context.get_context().impl.static_output(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA};\n")
    for statement in role_settings():
        context.get_context().impl.static_output(statement + ";\n")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(url or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Serialise concurrent `migrate` runs (two deploys at once) on a skene-specific lock.
        connection.exec_driver_sql("SELECT pg_advisory_lock(hashtext('skene.migrate'))")
        try:
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            for statement in role_settings():
                connection.exec_driver_sql(statement)
            connection.commit()
            context.configure(connection=connection, version_table=VERSION_TABLE,
                              version_table_schema=SCHEMA, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(hashtext('skene.migrate'))")
            connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
