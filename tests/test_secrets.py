"""Secrets never leave the app's table (issue 10 §2), on framework-made schemas: the FastAPI
full-stack template's argon2 `hashed_password` and Django's pbkdf2 `password`. `init` writes the
exclude list it chose and says why; no hash reaches skene.events, skene.users, delivery contexts,
the last activity's data or the queue, in trigger and logical mode; an update that changes only
excluded columns is no event; `check` warns about a captured column that looks secret; `migrate`
applies a changed list and removes the newly left-out column from what skene stored, which is also
what an install from before column lists gets on upgrade.

Decided default for Django's `last_login`: it is no secret, so it is captured; a login is then one
`auth_user.update` event (not activity: the users table's changes never are). `exclude:
[password, last_login]` leaves logins out entirely."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from alembic import command

from skene_cdc.config import load_config
from skene_cdc.migrations import runner
from tests.conftest import run_cli
from tests.framework_apps import (
    alembic,
    django,
    fullstack_change_password,
    fullstack_item,
    fullstack_signup,
    install,
    listen_once,
    rows,
)
from tests.logical_util import dbname
from tests.pgcluster import PgCluster
from tests.setup_helpers import empty_db, invoke

# Everywhere skene keeps what it read from the app.
STORED = {
    "skene.events": "SELECT string_agg(concat(data::text, old_data::text), ' ') FROM skene.events",
    "queue": "SELECT string_agg(data::text, ' ') FROM skene.queue",
    "skene.users": "SELECT string_agg(to_jsonb(u)::text, ' ') FROM skene.users u",
    "deliveries": "SELECT string_agg(context::text, ' ') FROM skene.deliveries",
    "user_activity": "SELECT string_agg(last_event_data::text, ' ') FROM skene.user_activity",
    "quarantine": "SELECT string_agg(data, ' ') FROM skene.quarantine",
}


def leaks(url: str, secrets: list[str]) -> dict[str, list[str]]:
    """Per place, the secrets found in it (empty when none is)."""
    found = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for place, query in STORED.items():
            try:
                row = conn.execute(query).fetchone()
            except psycopg.errors.UndefinedTable:
                continue  # an install from before the place existed

            text = str(row[0] if row and row[0] is not None else "")
            hits = [s for s in secrets if s in text]
            if hits:
                found[place] = hits
    return found


def fullstack_hashes(url: str) -> list[str]:
    hashes = [str(r[0]) for r in rows(url, 'SELECT hashed_password FROM "user"')]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    return hashes


def django_hashes(url: str) -> list[str]:
    hashes: list[str] = json.loads(django(url, {"do": "hashes"}))
    assert hashes and all(h.startswith("pbkdf2_sha256$") for h in hashes)
    return hashes


def user_events(url: str, table: str) -> list[tuple[object, ...]]:
    return rows(url, "SELECT op, user_id, activity, data FROM skene.events WHERE table_name = %s "
                     "ORDER BY id", (table,))


def queued(url: str) -> int:
    return int(rows(url, "SELECT count(*) FROM skene.queue")[0][0])


def test_fullstack_template(pg: PgCluster, tmp_path: Path) -> None:
    with empty_db(pg) as url:
        alembic(url, "upgrade", "head")
        config, printed = install(url, tmp_path)
        assert "excluded: public.user.hashed_password: its name looks secret ('hashed')" in printed
        assert config.app.users.exclude == ["hashed_password"]
        assert config.app.activity[0].exclude is None

        ann = fullstack_signup(url, "ann@x.test")
        bob = fullstack_signup(url, "bob@x.test", full_name="Bob")
        fullstack_item(url, ann, "first")
        fullstack_item(url, bob, "second")
        before = queued(url)
        fullstack_change_password(url, "ann@x.test", "a-new-password-1")
        assert queued(url) == before, "a change of an excluded column alone is no event"
        assert leaks(url, fullstack_hashes(url) + ["$argon2"]) == {}  # the queue, before reading

        listen_once(url, config)
        assert rows(url, "SELECT count(*) > 0 FROM skene.deliveries") == [(True,)]
        assert leaks(url, fullstack_hashes(url) + ["$argon2", "hashed_password"]) == {}
        events = user_events(url, "public.user")
        assert [e[:3] for e in events] == [("insert", str(ann), False), ("insert", str(bob), False)]
        assert all("email" in e[3] and "hashed_password" not in e[3] for e in events)  # type: ignore[operator]


def test_django_signup_login_and_a_changed_list(pg: PgCluster, tmp_path: Path) -> None:
    with empty_db(pg) as url:
        django(url, {"do": "migrate"}, {"do": "signup", "username": "ann", "notes": ["a"]})
        config, printed = install(url, tmp_path)
        assert "excluded: public.auth_user.password: its name looks secret ('password')" in printed
        django(url, {"do": "signup", "username": "bob", "notes": ["b"]},
               {"do": "login", "username": "ann", "notes": ["c"]},
               {"do": "set_password", "username": "bob", "password": "another-pw-123"})
        listen_once(url, config)
        assert leaks(url, django_hashes(url) + ["pbkdf2_sha256"]) == {}
        events = user_events(url, "public.auth_user")
        # bob's signup (his first_name empty, as the form leaves it) and the login the signup
        # view does, ann's login; bob's new password alone is no event.
        assert [e[:3] for e in events] == [("insert", "2", False), ("update", "2", False),
                                           ("update", "1", False)]
        signup, _, login = (e[3] for e in events)
        assert signup["first_name"] == "" and "password" not in signup  # type: ignore[index,operator]
        assert login["last_login"] is not None and "password" not in login  # type: ignore[index,operator]

        # Logins out too: the changed list is drift, which check reports and migrate applies,
        # removing last_login from what skene stored.
        path = Path(config.source)
        path.write_text(path.read_text().replace("exclude: [password]",
                                                 "exclude: [password, last_login]"))
        checked = invoke("check", url=url, config_path=path)
        assert "public.auth_user: capture definition changed (drift), replaced" in checked
        out = run_cli("migrate", url=url, config_path=path).stdout
        assert "public.auth_user: capture definition changed (drift), replaced" in out
        assert "public.auth_user: last_login removed from what skene stored" in out
        assert "nothing changed" in run_cli("migrate", url=url, config_path=path).stdout
        assert all("last_login" not in e[3] for e in user_events(url, "public.auth_user"))  # type: ignore[operator]
        django(url, {"do": "login", "username": "bob", "password": "another-pw-123"})
        assert queued(url) == 0 or leaks(url, ["last_login"]) == {}
        listen_once(url, load_config(path))
        assert len(user_events(url, "public.auth_user")) == 3, "a login alone is no event now"
        assert leaks(url, django_hashes(url) + ["pbkdf2_sha256", "last_login"]) == {}


def test_logical_capture_leaves_out_the_same_columns(pg: PgCluster, tmp_path: Path) -> None:
    with empty_db(pg) as url:
        alembic(url, "upgrade", "head")
        cfg = tmp_path / "skene.yaml"
        invoke("init", url=url, config_path=cfg)
        cfg.write_text(cfg.read_text().replace(
            "  mode: trigger", f"  mode: logical\n  slot: s_{dbname(url)}"))
        invoke("migrate", url=url, config_path=cfg)
        config = load_config(cfg)
        ann = fullstack_signup(url, "ann@x.test", full_name="Ann")
        fullstack_item(url, ann, "first")
        fullstack_change_password(url, "ann@x.test", "a-new-password-1")
        listen_once(url, config)
        events = user_events(url, "public.user")
        assert [e[:2] for e in events] == [("insert", str(ann))]
        assert rows(url, "SELECT source FROM skene.events WHERE table_name = 'public.user'") == [
            ("logical",)]
        assert leaks(url, fullstack_hashes(url) + ["$argon2", "hashed_password"]) == {}


def problems(url: str, path: Path) -> list[str]:
    out = run_cli("check", "--json", url=url, config_path=path, check=False).stdout
    return [f"{p['severity']} {p['where']}: {p['message']} FIX {p['fix']}"
            for p in json.loads(out)["problems"]]


def test_check_warns_when_a_captured_column_looks_secret(pg: PgCluster, tmp_path: Path) -> None:
    with empty_db(pg) as url:
        alembic(url, "upgrade", "head")
        config, _ = install(url, tmp_path)
        path = Path(config.source)
        text = path.read_text()
        assert problems(url, path) == []
        path.write_text(text.replace("exclude: [hashed_password]", "exclude: [is_superuser]"))
        found = problems(url, path)
        # Drift (the trigger, and skene.users would show hashed_password), then the warning.
        assert len(found) == 3 and found[0].startswith("warning database: installed capture "
                                                       "differs from skene.yaml")
        assert "skene.users is out of date" in found[1]
        assert found[2:] == [
            "warning database: public.user: column 'hashed_password' looks secret ('hashed') and "
            "would be copied into skene.events: the table's `exclude:` list does not name it "
            "FIX with no column list for the table, `skene-cdc migrate` leaves secret-looking "
            "columns out; with an `exclude:` list, add it there, then `skene-cdc migrate` (if it "
            "holds no secret, ignore this warning)"]
        path.write_text(text.replace("exclude: [hashed_password]",
                                     "include: [email, hashed_password]"))
        assert "skene.yaml's `include:` list names it" in problems(url, path)[-1]

        # The app adds a secret-looking column after migrate; with no list (the default),
        # installed capture copies it until migrate, which also removes what it copied.
        path.write_text(text.replace("    exclude: [hashed_password]\n", ""))
        run_cli("migrate", url=url, config_path=path)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute('ALTER TABLE "user" ADD COLUMN reset_token text')
            conn.execute("INSERT INTO \"user\" (id, email, hashed_password, is_active, "
                         "is_superuser, reset_token) VALUES (gen_random_uuid(), 'x@x.test', "
                         "'h', true, false, 'tok-123')")
        listen_once(url, load_config(path))
        assert leaks(url, ["tok-123"]) == {"skene.events": ["tok-123"], "queue": ["tok-123"]}
        found = problems(url, path)
        assert (
            "warning database: public.user: column 'reset_token' looks secret ('token') and the "
            "installed capture copies it into skene.events FIX skene.yaml leaves it out: run "
            "`skene-cdc migrate` to apply that") in found, found
        out = run_cli("migrate", url=url, config_path=path).stdout
        assert "public.user: reset_token removed from what skene stored" in out
        assert leaks(url, ["tok-123"]) == {} and problems(url, path) == []


def test_an_install_from_before_column_lists_is_scrubbed_on_upgrade(pg: PgCluster,
                                                                    tmp_path: Path) -> None:
    """Triggers of the 0006 era copied every column into skene.events; upgrading replaces them
    and removes the hashes they copied."""
    with empty_db(pg) as url:
        django(url, {"do": "migrate"})
        cfg = tmp_path / "skene.yaml"
        invoke("init", url=url, config_path=cfg)
        config = load_config(cfg)
        # skene as it was at 0006: its schema, a trigger with that era's arguments (user id,
        # time, event, activity), a registry row without column lists.
        command.upgrade(runner.alembic_config(url, config=config), "0006_freemium")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TRIGGER skene_capture AFTER INSERT OR UPDATE OR DELETE ON "
                         "auth_user FOR EACH ROW EXECUTE FUNCTION "
                         "skene.capture('id', 'date_joined', '', 'false'); "
                         "COMMENT ON TRIGGER skene_capture ON auth_user IS 'skene:old'; "
                         "INSERT INTO skene.captured_tables (table_name, mode, role, "
                         "user_id_column, timestamp_column, definition_hash) VALUES "
                         "('public.auth_user', 'trigger', 'users', 'id', 'date_joined', 'old')")
        django(url, {"do": "signup", "username": "ann", "notes": ["a"]})
        assert leaks(url, django_hashes(url)) == {"skene.events": django_hashes(url)}

        out = run_cli("migrate", url=url, config_path=config.source).stdout
        assert "public.auth_user: password removed from what skene stored" in out
        django(url, {"do": "signup", "username": "bob", "notes": ["b"]})
        listen_once(url, config)
        assert leaks(url, django_hashes(url) + ["pbkdf2_sha256"]) == {}
        assert rows(url, "SELECT user_id, op FROM skene.events WHERE table_name = "
                         "'public.auth_user' ORDER BY id") == [
            ("1", "insert"), ("1", "update"), ("2", "insert"), ("2", "update")]  # signup, login
        assert rows(url, "SELECT user_id, name FROM skene.users ORDER BY 1") == [("1", ""),
                                                                                 ("2", "")]


def test_docs_list_every_secret_looking_pattern() -> None:
    from skene_cdc.migrations.columns import SECRET_PAIRS, SECRET_WORDS, looks_secret

    doc = (Path(__file__).parent.parent / "docs" / "config.md").read_text()
    missing = [w for w in sorted(SECRET_WORDS) if f"`{w}`" not in doc]
    missing += [" ".join(p) for p in sorted(SECRET_PAIRS) if f"`{' '.join(p)}`" not in doc]
    assert missing == [], f"docs/config.md must list {missing}"
    assert [n for n in ("password", "hashed_password", "password_hash", "api_key", "otp_secret",
                        "reset_token", "hashedPassword") if not looks_secret(n)] == []
    assert [n for n in ("hashtag", "keyboard", "last_login", "email", "full_name")
            if looks_secret(n)] == []
