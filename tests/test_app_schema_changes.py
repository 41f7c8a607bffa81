"""skene never blocks the app's own schema changes (issue 10 §1), on schemas the frameworks make:
the FastAPI full-stack template's `"user"`/`item` by its own Alembic migrations, Django's
`auth_user` by `manage.py migrate`. With skene installed (init, migrate, listen), the app's ALTER
TYPE, DROP of an unmapped column, RENAME of a mapped one, `alembic downgrade -1` and Django's
backwards `migrate auth 0011` all succeed; afterwards capture goes on, skene.users is rebuilt by
the listener (and by migrate), `check` and `status` name what the app changed and the fix, and
the listener says it once."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.cli.check import gather
from skene_cdc.cli.context import Ctx
from skene_cdc.config import Config
from tests.conftest import run_cli
from tests.framework_apps import (
    Listener,
    alembic,
    django,
    fullstack_item,
    fullstack_signup,
    install,
    listen_once,
    manage,
    rows,
    users_columns,
)
from tests.pgcluster import PgCluster
from tests.setup_helpers import empty_db
from tests.test_users_lookup import uses_index


@pytest.fixture
def fullstack(pg: PgCluster, tmp_path: Path) -> Iterator[tuple[str, Config]]:
    """The template app at head with two users (one without a name) who own items, skene
    installed and the listener run once."""
    with empty_db(pg) as url:
        alembic(url, "upgrade", "head")
        ann = fullstack_signup(url, "ann@x.test")
        bob = fullstack_signup(url, "bob@x.test", full_name="Bob")
        config, _ = install(url, tmp_path)
        fullstack_item(url, ann, "first")
        fullstack_item(url, bob, "second")
        listen_once(url, config)
        yield url, config


def ddl(url: str, statement: str) -> None:
    """The app's own schema change, as its migration would run it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def problems(url: str, config: Config) -> list[str]:
    found, _ = gather(Ctx(url, str(Path(config.source))))
    return [f"{p.severity} {p.where}: {p.message} FIX {p.fix}" for p in found]


def status(url: str, config: Config) -> list[dict[str, str]]:
    out = run_cli("status", "--json", url=url, config_path=config.source).stdout
    section: list[dict[str, str]] = json.loads(out)["app_schema"]
    return section


def users_by_id(url: str, ids: list[str]) -> list[tuple[object, ...]]:
    return rows(url, "SELECT user_id, email, name FROM skene.users_by_id(%s) ORDER BY email",
                (ids,))


def test_alter_type_and_dropping_an_unmapped_column(fullstack: tuple[str, Config],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    url, config = fullstack
    columns = users_columns(url)
    assert "is_superuser" in columns and "hashed_password" not in columns
    ids = [str(r[0]) for r in rows(url, 'SELECT id FROM "user" ORDER BY email')]

    ddl(url, 'ALTER TABLE "user" ALTER COLUMN full_name TYPE varchar(500)')
    assert users_columns(url) == columns  # a wider varchar changes nothing skene shows
    assert problems(url, config) == []

    ddl(url, 'ALTER TABLE "user" DROP COLUMN is_superuser')
    found = problems(url, config)
    assert len(found) == 1 and found[0].startswith("error database: public.user: skene.users "
                                                   "fails: column u.is_superuser does not exist")
    assert "rebuilds skene.users within a minute" in found[0]
    assert [(r["column"], r["severity"]) for r in status(url, config)] == [("is_superuser",
                                                                            "error")]

    with caplog.at_level(logging.INFO, logger="skene.listener"):
        listen_once(url, config)
    rebuilt = [r.getMessage() for r in caplog.records if "users watch" in r.getMessage()]
    assert rebuilt == ["users watch: public.user changed: skene.users view (re)built from "
                       "skene.yaml"]
    assert users_columns(url) == [c for c in columns if c != "is_superuser"]
    assert [r[1:] for r in users_by_id(url, ids)] == [("ann@x.test", None), ("bob@x.test", "Bob")]
    with psycopg.connect(url) as conn:
        assert uses_index(conn, "user_pkey", f"SELECT * FROM skene.users_by_id(ARRAY['{ids[0]}'])")
    assert problems(url, config) == [] and status(url, config) == []


def test_migrate_rebuilds_a_stale_users_view(fullstack: tuple[str, Config]) -> None:
    url, config = fullstack
    ddl(url, 'ALTER TABLE "user" ALTER COLUMN is_active TYPE text')
    found = problems(url, config)
    assert len(found) == 1 and found[0].startswith("warning database: public.user: skene.users "
                                                   "is out of date"), found
    out = run_cli("migrate", url=url, config_path=config.source).stdout
    assert "skene.users view (re)built" in out
    assert problems(url, config) == []
    assert rows(url, "SELECT pg_typeof(is_active)::text FROM skene.users LIMIT 1") == [("text",)]


def test_renaming_a_mapped_column(fullstack: tuple[str, Config],
                                  caplog: pytest.LogCaptureFixture) -> None:
    url, config = fullstack
    ddl(url, 'ALTER TABLE "user" RENAME COLUMN full_name TO display_name')
    # The app's next release writes the new column.
    carl = rows(url, "INSERT INTO \"user\" (id, email, display_name, hashed_password, is_active, "
                     "is_superuser, created_at) VALUES (gen_random_uuid(), 'carl@x.test', 'Carl', "
                     "'x', true, false, now()) RETURNING id")[0][0]
    for n in range(30):
        fullstack_item(url, carl, f"item {n}")

    listener = Listener(url, config)
    with caplog.at_level(logging.INFO, logger="skene.listener"):
        listener.drain()
        listener.drain()
    said = [r.getMessage() for r in caplog.records if "full_name" in r.getMessage()]
    assert len(said) == 2, said  # what changed, then what was done: once each
    assert "no longer has column 'full_name' (app.users.name)" in said[0]
    assert "(re)built from skene.yaml without name" in said[1]
    # Capture went on: Carl's signup and items are events, with their user.
    assert rows(url, "SELECT table_name, count(*) FROM skene.events WHERE user_id = %s "
                     "GROUP BY 1 ORDER BY 1", (str(carl),)) == [("public.item", 30),
                                                                 ("public.user", 1)]
    # skene.users works, its name empty until skene.yaml names the new column.
    assert rows(url, "SELECT email, name, display_name, activity_this_week FROM skene.users "
                     "ORDER BY email") == [("ann@x.test", None, None, 1),
                                           ("bob@x.test", None, "Bob", 1),
                                           ("carl@x.test", None, "Carl", 30)]

    found = problems(url, config)
    assert len(found) == 1 and "app.users.name: column 'full_name' does not exist in " \
                               "public.user" in found[0], found
    assert "the app renamed or dropped the column, point skene.yaml at its new name" in found[0]
    assert [(r["column"], r["problem"]) for r in status(url, config)] == [
        ("full_name", "column 'full_name' (app.users.name in skene.yaml) no longer exists: the "
                      "app renamed or dropped it, and skene.users shows name as NULL")]

    # The fix the messages give: point skene.yaml at the new name, migrate.
    path = Path(config.source)
    path.write_text(path.read_text().replace("name: full_name", "name: display_name"))
    run_cli("migrate", url=url, config_path=path)
    assert rows(url, "SELECT email, name FROM skene.users ORDER BY email")[1:] == [
        ("bob@x.test", "Bob"), ("carl@x.test", "Carl")]
    assert status(url, config) == []


def test_alembic_downgrade_of_the_app(fullstack: tuple[str, Config],
                                      caplog: pytest.LogCaptureFixture) -> None:
    """The template's last migration added created_at to user and item; skene maps both."""
    url, config = fullstack
    alembic(url, "downgrade", "-1")
    assert rows(url, "SELECT version_num FROM public.alembic_version") == [("e2412789c190",)]
    ann = rows(url, "SELECT id FROM \"user\" WHERE email = 'ann@x.test'")[0][0]
    # The app's previous release, which has no created_at, writes items.
    ddl(url, f"INSERT INTO item (id, title, owner_id) SELECT gen_random_uuid(), 'later ' || g, "
             f"'{ann}' FROM generate_series(1, 25) g")
    listener = Listener(url, config)
    with caplog.at_level(logging.INFO, logger="skene.listener"):
        listener.drain()
        listener.drain()
    missing = [r.getMessage() for r in caplog.records if "no longer have" in r.getMessage()]
    assert missing == ["events: rows of public.item no longer have the column(s) created_at "
                       "that skene.yaml maps (renamed or dropped by the app?): fix skene.yaml "
                       "and run `skene-cdc migrate`; other tables are captured as usual"]
    assert rows(url, "SELECT count(*) FROM skene.events WHERE table_name = 'public.item' "
                     "AND user_id = %s", (str(ann),)) == [(26,)]
    assert rows(url, "SELECT email, created_at FROM skene.users ORDER BY email") == [
        ("ann@x.test", None), ("bob@x.test", None)]
    assert sorted((r["table"], r["column"]) for r in status(url, config)) == [
        ("public.item", "created_at"), ("public.user", "created_at")]
    found = problems(url, config)
    assert len(found) == 2 and all("column 'created_at' does not exist" in p for p in found)

    # And back up: the app's own upgrade succeeds too; migrate makes skene whole again.
    alembic(url, "upgrade", "head")
    run_cli("migrate", url=url, config_path=config.source)
    assert problems(url, config) == [] and status(url, config) == []


def test_django_backwards_migration(pg: PgCluster, tmp_path: Path) -> None:
    with empty_db(pg) as url:
        django(url, {"do": "migrate"}, {"do": "signup", "username": "ann", "notes": ["a"]})
        config, _ = install(url, tmp_path)
        django(url, {"do": "signup", "username": "bob", "first_name": "Bob", "notes": ["b"]})
        listen_once(url, config)
        columns = users_columns(url)
        # auth 0012 widened first_name (skene.users.name) to 150: undo it, and redo it.
        manage(url, "migrate", "auth", "0011")
        assert rows(url, "SELECT character_maximum_length FROM information_schema.columns "
                         "WHERE table_name = 'auth_user' AND column_name = 'first_name'") == [(30,)]
        manage(url, "migrate")
        django(url, {"do": "login", "username": "ann", "notes": ["c"]})
        listen_once(url, config)
        assert users_columns(url) == columns
        assert rows(url, "SELECT user_id, name, activity_this_week FROM skene.users "
                         "ORDER BY user_id") == [("1", "", 1), ("2", "Bob", 1)]
        assert problems(url, config) == []


def test_the_watch_never_waits_behind_the_apps_migration(fullstack: tuple[str, Config],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """The app's next migration holds its table while the listener wants to rebuild skene.users:
    the listener gives up after its short lock timeout, says so once, and rebuilds later."""
    from skene_cdc.db import connect
    from skene_cdc.migrations.users_watch import UsersWatch

    url, config = fullstack
    ddl(url, 'ALTER TABLE "user" DROP COLUMN is_superuser')
    watch = UsersWatch(config, every=0)
    with psycopg.connect(url) as app, connect(url) as conn:
        app.execute('LOCK TABLE "user" IN ACCESS EXCLUSIVE MODE')
        with caplog.at_level(logging.INFO, logger="skene.listener"):
            assert watch.poll(conn) == []
            assert watch.poll(conn) == []
        app.execute('ALTER TABLE "user" ADD COLUMN bio text')  # the migration goes on, unblocked
        app.commit()
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1 and "could not check or rebuild skene.users for public.user " \
                                  "(canceling statement due to lock timeout)" in said[0], said
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert watch.poll(conn) == ["skene.users view (re)built from skene.yaml"]
    assert "bio" in users_columns(url) and "is_superuser" not in users_columns(url)
