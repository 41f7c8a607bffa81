"""The seeds' two loops end to end against real PostgreSQL: activation waits for the user's first
key action; retention finds dormant users once per spell, records the comeback, honours the
cooldown. Sending is the sender's job: these tests read the outbox and the funnel."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tests.loops_support import (
    ACTIVATION,
    RETENTION,
    act,
    add_users,
    deliveries,
    enrolments,
    established,
    execute,
    loops_config,
    pipeline,
    rows,
    run_loop,
)

SEED_QUERY = ("SELECT user_id FROM skene.users WHERE last_activity_at < NOW() - INTERVAL '7 days' "
              "AND re_engagement_sent = false ORDER BY user_id")


def test_activation_waits_for_the_first_key_action(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, ACTIVATION)
    add_users(db_url, (1, "Ann"), (2, "Bob"))
    pipeline(db_url, config)
    assert deliveries(db_url) == []  # inserted, not yet activated: no email
    enrolled = enrolments(db_url, "activation")
    assert {u: e["state"] for u, e in enrolled.items()} == {"1": "enrolled", "2": "enrolled"}
    assert enrolled["1"]["expires_at"] - enrolled["1"]["enrolled_at"] < timedelta(days=7, hours=1)

    act(db_url, 1, "first_project_created")
    act(db_url, 2, "login")  # Bob acts, but not the key action
    pipeline(db_url, config)
    sent = deliveries(db_url)
    assert [(d["user_id"], d["to_address"], d["template"], d["provider"], d["episode"])
            for d in sent] == [("1", "ann@x.test", "activation_welcome", "resend", "activation")]
    ctx = sent[0]["context"]
    assert ctx["user"]["name"] == "Ann"
    assert ctx["user"]["action_type"] == "first_project_created"  # the condition's columns
    assert ctx["event"]["event"] == "first_project_created"
    assert ctx["personalization"] == {"name": "{{user.name}}"}
    assert ctx["loop"]["name"] == "activation" and ctx["episode"] == "activation"
    assert sent[0]["max_attempts"] == 4  # recovery.retries + 1

    # Doing it again, and running everything again, never sends a second activation email.
    act(db_url, 1, "first_project_created")
    pipeline(db_url, config)
    run_loop(db_url, config, "activation")
    assert len(deliveries(db_url)) == 1
    enrolled = enrolments(db_url, "activation")
    assert enrolled["1"]["state"] == "converted" and enrolled["1"]["met_at"] is not None
    assert enrolled["2"]["state"] == "enrolled" and enrolled["2"]["evaluations"] >= 2
    funnel = rows(db_url, "SELECT * FROM skene.loop_funnel WHERE loop = 'activation'")
    assert [(f["enrolled"], f["met"], f["sent"], f["converted"], float(f["conversion_rate"]))
            for f in funnel] == [(2, 1, 1, 1, 0.5)]


def test_activation_window_expires(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, ACTIVATION)
    add_users(db_url, (1, "Ann"))
    pipeline(db_url, config)
    execute(db_url, "UPDATE skene.enrolments SET expires_at = now() - interval '1 second'")
    pipeline(db_url, config)  # the sweep expires it
    act(db_url, 1, "first_project_created")
    pipeline(db_url, config)
    assert deliveries(db_url) == []
    assert enrolments(db_url, "activation")["1"]["state"] == "expired"


def test_retention_emails_dormant_users_once(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, RETENTION)
    established(db_url, config)  # registered before the slot
    add_users(db_url, (1, "Ann"), (2, "Bob"), (3, "Cy"), (4, "Di"))
    act(db_url, 1, "export", days_ago=8)   # dormant
    act(db_url, 2, "login", days_ago=1)    # active
    act(db_url, 3, "login", days_ago=6.9)  # near miss: not yet 7 days
    act(db_url, 4, "login", days_ago=30)   # dormant longer ...
    act(db_url, 4, "login", days_ago=7.1)  # ... but the last activity decides
    pipeline(db_url, config)
    sent = deliveries(db_url, "retention")
    assert [d["user_id"] for d in sent] == ["1", "4"]
    ann = sent[0]["context"]["user"]
    last = rows(db_url, "SELECT max(created_at) AS t FROM user_actions WHERE user_id = 1")[0]["t"]
    # Compare instants, not strings: Python and PostgreSQL spell trailing zeros differently.
    assert datetime.fromisoformat(ann["last_activity_at"]) == last
    assert ann["last_event"] == "export"
    assert ann["name"] == "Ann" and ann["days_inactive"] == 8
    assert sent[0]["episode"].startswith("spell:")
    # skene.users knows, so the seeds' own query now finds nobody left to email.
    assert rows(db_url, SEED_QUERY) == []
    assert [r["user_id"] for r in rows(db_url, "SELECT user_id FROM skene.users WHERE "
                                               "re_engagement_sent ORDER BY 1")] == ["1", "4"]

    # Running the loop again (and the listener again) enqueues nothing new.
    run_loop(db_url, config, "retention")
    pipeline(db_url, config)
    assert len(deliveries(db_url, "retention")) == 2
    firings = rows(db_url, "SELECT loop, step, manual, state, enqueued FROM "
                           "skene.schedule_firings ORDER BY id")
    assert [(f["manual"], f["state"], f["enqueued"]) for f in firings] == [
        (False, "done", 2), (True, "done", 0)]


def test_retention_records_the_comeback(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, RETENTION)
    established(db_url, config)  # registered before the slot
    add_users(db_url, (1, "Ann"), (2, "Bob"))
    act(db_url, 1, "login", days_ago=8)
    act(db_url, 2, "login", days_ago=9)
    pipeline(db_url, config)
    assert len(deliveries(db_url, "retention")) == 2
    act(db_url, 1, "login")  # Ann comes back; Bob does not
    pipeline(db_url, config)
    enrolled = enrolments(db_url, "retention")
    assert enrolled["1"]["state"] == "converted" and enrolled["1"]["converted_at"] is not None
    assert enrolled["2"]["state"] == "sent" and enrolled["2"]["converted_at"] is None
    [funnel] = rows(db_url, "SELECT * FROM skene.loop_funnel WHERE loop = 'retention'")
    assert (funnel["sent"], funnel["converted"], float(funnel["conversion_rate"])) == (2, 1, 0.5)
    assert rows(db_url, "SELECT re_engagement_sent FROM skene.users WHERE user_id = '1'") == [
        {"re_engagement_sent": False}]  # active again: a new spell, no email for it


def test_retention_new_spell_after_cooldown_is_a_new_episode(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, RETENTION)
    established(db_url, config)  # registered before the slot
    add_users(db_url, (1, "Ann"))
    act(db_url, 1, "login", days_ago=20)
    pipeline(db_url, config)
    assert len(deliveries(db_url)) == 1
    act(db_url, 1, "login", days_ago=10)  # active again, then dormant again: a new spell
    pipeline(db_url, config)
    run_loop(db_url, config, "retention")
    assert len(deliveries(db_url)) == 1  # within the 30-day cooldown: nothing
    assert rows(db_url, SEED_QUERY) == [{"user_id": "1"}]  # the new spell has had no email
    # 31 days later (the clock is moved by ageing skene's records of the first email)
    execute(db_url, "UPDATE skene.enrolments SET enrolled_at = enrolled_at - interval '31 days', "
                    "sent_at = sent_at - interval '31 days', met_at = met_at - interval '31 days'")
    run_loop(db_url, config, "retention")
    sent = deliveries(db_url)
    assert len(sent) == 2 and sent[0]["episode"] != sent[1]["episode"]
    assert rows(db_url, SEED_QUERY) == []


def test_enroll_existing_users_and_event_triggers(db_url: str, tmp_path: Path) -> None:
    existing = ACTIVATION.replace("    recovery:", "    enroll: existing\n    recovery:")
    on_login = ACTIVATION.replace("name: activation", "name: onboard").replace(
        "{type: database, table: users, event: insert}", "{type: event, event: login}")
    config = loops_config(tmp_path, existing, on_login)
    add_users(db_url, (1, "Ann"), (2, "Bob"))
    act(db_url, 1, "first_project_created")
    pipeline(db_url, config)  # the loop starts: Ann and Bob were already there
    assert [(d["loop"], d["user_id"]) for d in deliveries(db_url)] == [("activation", "1")]
    assert set(enrolments(db_url, "activation")) == {"1", "2"}
    add_users(db_url, (3, "Cy"))  # arrives after the loop: `existing` leaves Cy out
    act(db_url, 2, "login")       # Bob's login enrols him in onboard ...
    pipeline(db_url, config)
    assert set(enrolments(db_url, "activation")) == {"1", "2"}
    assert set(enrolments(db_url, "onboard")) == {"2"}
    act(db_url, 2, "first_project_created")  # ... and his first project completes both
    act(db_url, 3, "first_project_created")
    pipeline(db_url, config)
    assert [(d["loop"], d["user_id"]) for d in deliveries(db_url)] == [
        ("activation", "1"), ("activation", "2"), ("onboard", "2")]


def test_the_seeds_retention_query_as_a_condition(db_url: str, tmp_path: Path) -> None:
    seeds = RETENTION.replace("condition: {type: dormant, days: 7}", f"""condition:
          type: query
          query: {SEED_QUERY.replace("user_id FROM", "* FROM").replace(" ORDER BY user_id", "")}
          timeout: 10m""")
    config = loops_config(tmp_path, seeds)
    established(db_url, config)  # registered before the slot
    add_users(db_url, (1, "Ann"), (2, "Bob"))
    act(db_url, 1, "export", days_ago=8)
    act(db_url, 2, "login", days_ago=2)
    pipeline(db_url, config)
    [sent] = deliveries(db_url)
    assert sent["user_id"] == "1" and sent["episode"].startswith("spell:")
    assert sent["context"]["user"]["last_event"] == "export"
    assert sent["context"]["user"]["re_engagement_sent"] is False  # as the query saw it
    run_loop(db_url, config, "retention")
    assert len(deliveries(db_url)) == 1
