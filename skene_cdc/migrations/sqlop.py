"""Run one of skene's .sql files from inside an Alembic migration, online or as `--sql` text."""

from __future__ import annotations

from alembic import context, op

from skene_cdc import sql


def run_sql(name: str) -> None:
    text = sql.load(name)
    if context.is_offline_mode():
        context.get_context().impl.static_output(text.rstrip() + "\n")
    else:
        # exec_driver_sql: the file goes to the server verbatim (no ':name' bind parsing), and
        # psycopg sends a parameterless query with the simple protocol, so it may hold many
        # statements and dollar-quoted bodies. SQLAlchemy still hands psycopg an empty parameter
        # set, so a literal '%' (format('%I', ...)) must be doubled.
        op.get_bind().exec_driver_sql(text.replace("%", "%%"))
