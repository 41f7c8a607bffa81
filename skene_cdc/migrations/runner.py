"""`migrate` and `uninstall`: Alembic for skene's own schema, then capture sync from skene.yaml."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import connect, schema_installed, sqlalchemy_url
from skene_cdc.errors import PrerequisiteError
from skene_cdc.listener.control import stop_listeners
from skene_cdc.listener.history import History, retention
from skene_cdc.migrations import capture, legacy, reader_role, roles
from skene_cdc.migrations import logical as _logical  # noqa: F401  (registers its planner)
from skene_cdc.migrations import scrub as _scrub  # noqa: F401  (registers its planner)

HERE = Path(__file__).parent


def alembic_config(url: str, output: io.StringIO | None = None,
                   config: Config | None = None) -> AlembicConfig:
    cfg = AlembicConfig(output_buffer=output, stdout=output or io.StringIO())
    if config is not None:  # role names are validated identifiers (config/models.py Roles)
        cfg.attributes["skene_roles"] = {"capture": config.roles.capture,
                                         "reader": config.roles.reader}
    cfg.set_main_option("script_location", str(HERE))
    # '%' is ConfigParser interpolation; a password may contain it.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def current_revision(url: str) -> str | None:
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table_schema": "skene"})
        return ctx.get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(HERE)).get_current_head()


@dataclass
class MigrateResult:
    schema_before: str | None
    schema_after: str | None
    capture_steps: list[str]


def migrate(url: str, config: Config, on_step: capture.StepCallback | None = None
            ) -> MigrateResult:
    with connect(url) as conn:
        # Validate the config against the database before touching anything; first whether
        # skene's roles can be set up (one message with every statement a DBA would run).
        refusals: list[PrerequisiteError] = []
        for check in (roles.preflight, capture.preflight):
            try:
                check(conn, config)
            except PrerequisiteError as exc:
                refusals.append(exc)
        if len(refusals) == 1:
            raise refusals[0]
        if refusals:
            raise PrerequisiteError(
                "; and ".join(r.message.rstrip(".") for r in refusals),
                hint=" Then: ".join(r.hint.rstrip(".") for r in refusals if r.hint))
        before = current_revision(url) if schema_installed(conn) else None
    command.upgrade(alembic_config(url, config=config), "heads")
    with connect(url) as conn:
        # History first: a logical slot created below should not start out behind skene's own
        # partition-making WAL.
        history = History(retention(config))
        moved = legacy.move(conn, history)
        with conn.transaction():
            labels = history.maintain(conn)
        if moved:
            labels.insert(0, f"{moved:,} events moved into the partitioned history")
        plan = capture.plan_sync(conn, config, installed=True)
        capture.apply(conn, plan, on_step)
        roles.verify(conn, config)
    return MigrateResult(before, current_revision(url), plan.labels() + labels)


def migrate_sql(url: str, config: Config) -> str:
    """The SQL `migrate` would run, for review; nothing is executed."""
    out = io.StringIO()
    with connect(url) as conn:
        installed = schema_installed(conn)
        start = current_revision(url) if installed else None
        if start != head_revision():
            command.upgrade(alembic_config(url, out, config),
                            f"{start}:heads" if start else "heads", sql=True)
        plan = capture.plan_sync(conn, config, installed=installed)
        text = plan.render(conn)
        conn.rollback()
    return out.getvalue() + ("\n-- capture sync from skene.yaml\n" + text if text else "")


def uninstall(url: str) -> list[str]:
    """Drop every skene object: capture triggers, the publication and slot (replica identities
    restored), schema skene, and the capture and reader roles unless another database still uses
    them. App tables and rows are untouched."""
    done: list[str] = []
    with connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regnamespace('skene') IS NOT NULL AS ok").fetchone() == {
                "ok": False}:
            return done
        stopped = stop_listeners(conn)  # before anything vanishes under them
        if stopped:
            done.append(f"stopped {stopped} running listener(s)")
        for row in conn.execute(sql.load("queries/capture_triggers")).fetchall():
            conn.execute(f'DROP TRIGGER IF EXISTS "{row["trigger"]}" ON '
                         f'"{row["schema"]}"."{row["table"]}"')
            done.append(f"dropped trigger {row['trigger']} on {row['table_name']}")
        for row in conn.execute(sql.load("queries/uninstall_replication")).fetchall():
            conn.execute(row["statement"])
            done.append(row["label"])
        # skene's roles: what the reader holds outside schema skene is revoked now; the capture
        # role (named by skene.capture()'s owner) holds nothing outside it. Both are dropped
        # once the schema is gone, unless another database still uses them.
        reader, revoked = reader_role.release(conn)
        done.extend(revoked)
        capture_role, kept = roles.capture_owner(conn)
        done.extend(kept)
        conn.execute("DROP SCHEMA skene CASCADE")
        done.append("dropped schema skene")
        for role in dict.fromkeys(r for r in (capture_role, reader) if r is not None):
            done.append(roles.drop_if_unused(conn, role))
    return done


