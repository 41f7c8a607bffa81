"""An email is not lost because a field is empty (issue 10, item 4), on schemas the frameworks
made themselves: Django's `auth_user` (its signup leaves `first_name` empty) and the FastAPI
example's `users` (optional `name`)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from skene_cdc.handlers.email import templates as tpl
from tests.conftest import run_cli
from tests.django_support import django
from tests.loops_support import rows
from tests.pgcluster import PgCluster
from tests.setup_helpers import empty_db, invoke

OLD_INIT = 'name: {value: "{{ user.name }}", fallback: there}'


def test_fallback_stands_in_for_null_and_empty_but_not_for_a_typo() -> None:
    spec = {"value": "{{ user.name }}", "fallback": "there"}
    assert tpl.variables({"n": spec}, {"name": None}, None, "w")["n"] == "there"
    assert tpl.variables({"n": spec}, {"name": " "}, None, "w")["n"] == "there"
    assert tpl.variables({"n": spec}, {"name": "Ann"}, None, "w")["n"] == "Ann"
    ago = {"value": "{{ user.last_activity_at | ago }}", "fallback": "a while ago"}
    assert tpl.variables({"a": ago}, {"last_activity_at": None}, None, "w")["a"] == "a while ago"
    with pytest.raises(tpl.TemplateProblem, match="nmae"):
        tpl.variables({"n": {"value": "{{ user.nmae }}", "fallback": "there"}}, {"name": "A"},
                      None, "w")
    with pytest.raises(tpl.TemplateProblem, match="rendered empty"):
        tpl.variables({"n": "{{ user.name }}"}, {"name": ""}, None, "w")


def django_with_skene(url: str, tmp_path: Path) -> Path:
    """The Django app's own schema, `skene-cdc init` on it, `migrate`."""
    django(url, {"username": "olga", "first_name": "Olga"}, migrate=True)
    cfg = tmp_path / "skene.yaml"
    invoke("init", url=url, config_path=cfg)
    run_cli("migrate", url=url, config_path=cfg)
    return cfg


def test_django_signup_without_a_name_gets_its_welcome_email(pg: PgCluster,
                                                              tmp_path: Path) -> None:
    """`init` wrote `name: "{{user.name}}"`; Bob signed up without a first name and his welcome
    email went `dead`. init's personalization now falls back."""
    with empty_db(pg) as url:
        cfg = django_with_skene(url, tmp_path)
        assert "fallback: there" in cfg.read_text()
        django(url, {"username": "bob", "notes": ["first"]})  # first_name left empty
        out = run_cli("listen", "--once", url=url, config_path=cfg).stdout
        [sent] = rows(url, "SELECT user_id, state, last_error FROM skene.deliveries")
        assert (sent["user_id"], sent["state"], sent["last_error"]) == ("2", "sent", None)
        assert "Welcome aboard, there" in out and "Hi there," in out
        checked = run_cli("check", url=url, config_path=cfg)
        assert "0 errors, 0 warnings" in checked.stdout, checked.stdout


def test_check_and_preview_report_a_personalization_without_fallback(pg: PgCluster,
                                                                       tmp_path: Path) -> None:
    with empty_db(pg) as url:
        cfg = django_with_skene(url, tmp_path)
        text = cfg.read_text()
        cfg.write_text(text.replace(OLD_INIT, 'name: "{{user.name}}"'))
        line = next(i for i, t in enumerate(cfg.read_text().splitlines(), 1)
                    if 'name: "{{user.name}}"' in t)
        # Olga has a name: the column only *can* be empty (Django's signup leaves it so).
        checked = run_cli("check", url=url, config_path=cfg, check=False)
        assert checked.returncode == 0, checked.stdout
        django(url, {"username": "bob"})
        checked = run_cli("check", url=url, config_path=cfg, check=False)
        assert checked.returncode == 1, checked.stdout
        assert (f"error   {cfg}:{line}: loop 'activation', template 'activation_welcome': "
                "personalization 'name' reads user.name with no fallback, but "
                "public.auth_user.first_name is empty or NULL for user 2") in checked.stdout
        assert "fallback: there" in checked.stdout  # the fix
        shown = run_cli("preview", "activation_welcome", "--user", "1", url=url,
                        config_path=cfg, check=False)
        assert shown.returncode == 0 and "Welcome aboard, Olga" in shown.stdout
        assert "personalization 'name' reads user.name with no fallback" in shown.stderr


def test_check_warns_about_a_nullable_column(pg: PgCluster, tmp_path: Path) -> None:
    """The FastAPI example's `name` is optional (NULL allowed): a warning while nobody lacks
    one, an error once somebody does."""
    from tests.test_examples import EXAMPLES

    with empty_db(pg) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((EXAMPLES / "fastapi_postgres" / "schema.sql").read_text())
            conn.execute("INSERT INTO users (email, name) VALUES ('ann@x.test', 'Ann')")
        cfg = tmp_path / "skene.yaml"
        cfg.write_text((EXAMPLES / "fastapi_postgres" / "skene.yaml").read_text()
                       .replace(OLD_INIT, 'name: "{{user.name}}"'))
        (tmp_path / "templates").symlink_to(EXAMPLES / "fastapi_postgres" / "templates")
        checked = run_cli("check", url=url, config_path=cfg, check=False)
        assert checked.returncode == 0
        assert ("warning") in checked.stdout and \
            "but public.users.name can be NULL; those users' emails would fail" in checked.stdout
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO users (email) VALUES ('nameless@x.test')")
        checked = run_cli("check", url=url, config_path=cfg, check=False)
        assert checked.returncode == 1
        assert "public.users.name is empty or NULL for user 2" in checked.stdout


def test_a_failed_render_is_reported_honestly_and_retried_from_the_current_config(
        pg: PgCluster, tmp_path: Path) -> None:
    """Bob signed up through Django's form (no first name) and never did anything. With the
    old `name: "{{user.name}}"` his email cannot be rendered: `loops run` must not print
    `sent`, his enrolment must not stay `sent` while the delivery is dead, and after the config
    is fixed `deliveries retry` sends it re-rendered (the documented `UPDATE ... SET state =
    'pending'` re-failed with the personalization frozen at enqueue)."""
    with empty_db(pg) as url:
        django(url, {"username": "olga", "first_name": "Olga"}, {"username": "bob"},
               migrate=True)
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE auth_user SET date_joined = now() - interval '9 days'")
        cfg = tmp_path / "skene.yaml"
        invoke("init", url=url, config_path=cfg)
        fixed = cfg.read_text()
        cfg.write_text(fixed.replace(OLD_INIT, 'name: "{{user.name}}"'))
        run_cli("migrate", url=url, config_path=cfg)
        ran = run_cli("loops", "run", "retention", url=url, config_path=cfg, COLUMNS="250")
        assert " sent" not in ran.stdout, ran.stdout
        bob = next(line for line in ran.stdout.splitlines() if "bob@x.test" in line)
        assert "will fail" in bob and "personalization 'name' rendered empty" in bob, bob
        assert "queued" in next(line for line in ran.stdout.splitlines() if "olga@" in line)
        assert "1 of them will fail to render" in ran.stdout, ran.stdout
        run_cli("listen", "--once", url=url, config_path=cfg)
        states = {r["user_id"]: r for r in rows(
            url, "SELECT user_id, state, delivery_state, last_error FROM skene.loop_enrolments")}
        assert (states["1"]["state"], states["1"]["delivery_state"]) == ("sent", "sent")
        assert (states["2"]["state"], states["2"]["delivery_state"]) == ("failed", "dead")
        assert "personalization 'name' rendered empty" in states["2"]["last_error"]
        [funnel] = rows(url, "SELECT sent, delivered, dead, failed FROM skene.loop_funnel "
                             "WHERE loop = 'retention' AND variant IS NULL")
        assert (funnel["delivered"], funnel["dead"], funnel["failed"]) == (1, 1, 1)

        # Still broken: retry refuses to re-queue what would fail again, and says why.
        again = run_cli("deliveries", "retry", "--loop", "retention", url=url, config_path=cfg,
                        check=False)
        assert again.returncode == 1, again.stdout + again.stderr
        assert "still fails" in again.stdout and "rendered empty" in again.stdout
        cfg.write_text(fixed)
        retried = run_cli("deliveries", "retry", "--loop", "retention", url=url,
                          config_path=cfg)
        assert "re-queued 1 delivery" in retried.stdout, retried.stdout
        out = run_cli("listen", "--once", url=url, config_path=cfg).stdout
        assert "We miss you, there" in out
        [bob_now] = rows(url, "SELECT state, delivery_state, last_error FROM "
                              "skene.loop_enrolments WHERE user_id = '2'")
        assert (bob_now["state"], bob_now["delivery_state"], bob_now["last_error"]) == (
            "sent", "sent", None)


def test_unguarded_reads() -> None:
    from skene_cdc.handlers.email.personalization import unguarded_reads

    assert unguarded_reads("{{ user.name }} {{ user['email'] | upper }}") == {"name", "email"}
    assert unguarded_reads("{{ user.name or 'there' }} {{ user.a | default('x') }} "
                           "{% if user.b %}{{ user.b }}{% endif %} {{ user.c if user.c else 'x' }}"
                           ) == set()
    assert unguarded_reads("{{ user.last_activity_at | ago }}") == {"last_activity_at"}
