"""Simulated users for the demo: a month of signups, first projects and people drifting away,
written into the sample app's own tables with backdated timestamps (skene takes event time from
the row), then a few dormant users coming back. Deterministic: the same run every time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

import psycopg

from skene_cdc import sql

FIRST_NAMES = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances",
               "Ken", "Radia", "Edsger", "Hedy", "Tim", "Katherine", "Guido", "Sophie", "John",
               "Mary", "Niklaus", "Shafi", "Donald", "Lynn", "Bjarne", "Anita", "Yukihiro",
               "Adele", "Brian", "Jean", "Larry", "Evelyn", "Rob", "Annie", "Whitfield", "Carol",
               "Leslie", "Joan", "Vint", "Ruth", "Bob", "Kathleen", "Ward", "Susan"]

FEATURES = ["dashboard_viewed", "report_exported", "teammate_invited", "data_source_connected"]


@dataclass
class Persona:
    """One simulated user: who they are, which cohort, and their actions (time, action_type)."""

    key: int
    name: str
    cohort: str
    signup_at: datetime
    actions: list[tuple[datetime, str]] = field(default_factory=list)
    user_id: int | None = None

    @property
    def email(self) -> str:
        return f"{self.name.lower()}.{self.key}@example.test"


# cohort -> (how many, what they do). The numbers are small so the demo's emails fit a screen.
COHORTS = {
    "dormant": 10,      # signed up weeks ago, built something, then stopped: retention's target
    "active": 8,        # still using the product this week: retention must leave them alone
    "power": 3,         # many projects: milestone emails at 5 and 10
    "new_activated": 7,  # signed up this week and created a first project: activation email
    "new_idle": 6,      # signed up this week, nothing yet: enrolled, waiting, no email
}
RETURNERS = 3           # dormant users who come back after the re-engagement email
INSTALLED_DAYS_AGO = 21  # skene goes in three weeks into the simulated month


def build_personas(now: datetime, seed: int = 7) -> list[Persona]:
    rnd = random.Random(seed)
    personas: list[Persona] = []
    names = iter(FIRST_NAMES)
    for cohort, count in COHORTS.items():
        for _ in range(count):
            p = _persona(rnd, len(personas) + 1, next(names), cohort, now)
            personas.append(p)
    return personas


def _persona(rnd: random.Random, key: int, name: str, cohort: str, now: datetime) -> Persona:
    def days_ago(lo: float, hi: float) -> datetime:
        return now - timedelta(days=rnd.uniform(lo, hi))

    # The app's existing users signed up before skene was installed (INSTALLED_DAYS_AGO), so only
    # this week's signups meet the activation loop; everyone's later activity is captured.
    if cohort == "dormant":
        signup, last = days_ago(24, 30), days_ago(9, 14)
    elif cohort in {"active", "power"}:
        signup, last = days_ago(22, 28), days_ago(0.1, 1.5)
    else:
        signup, last = days_ago(0.5, 3), now - timedelta(hours=1)
    p = Persona(key, name, cohort, signup)
    if cohort == "new_idle":
        return p
    first = signup + timedelta(hours=rnd.uniform(0.5, 10))
    p.actions.append((first, "first_project_created"))
    if cohort == "new_activated":
        return p
    projects = rnd.randint(6, 11) if cohort == "power" else rnd.randint(0, 2)
    extra = [(_between(rnd, first, last), "project_created") for _ in range(projects)]
    extra += [(_between(rnd, first, last), rnd.choice(FEATURES)) for _ in range(rnd.randint(2, 5))]
    extra.append((last, rnd.choice(FEATURES)))
    p.actions += sorted(extra)
    return p


def _between(rnd: random.Random, a: datetime, b: datetime) -> datetime:
    return a + (b - a) * rnd.random()


def _timeline(personas: list[Persona]) -> Iterator[tuple[datetime, Persona, str | None]]:
    """Every signup (action None) and action in time order."""
    items: list[tuple[datetime, Persona, str | None]] = []
    for p in personas:
        items.append((p.signup_at, p, None))
        items += [(at, p, action) for at, action in p.actions]
    yield from sorted(items, key=lambda t: (t[0], t[1].key))


@dataclass
class Played:
    days: int = 0
    signups: int = 0
    actions: int = 0


def play_history(conn: psycopg.Connection[dict[str, object]], personas: list[Persona], *,
                 since: datetime | None = None, until: datetime | None = None) -> Played:
    """Write the part of the month in [since, until) into the app's tables, one transaction per
    simulated day (as the app would, a day's commits at a time), in time order so user ids
    follow signup order."""
    played = Played()
    timeline = [t for t in _timeline(personas)
                if (since is None or t[0] >= since) and (until is None or t[0] < until)]
    for _day, items in groupby(timeline, key=lambda t: t[0].date()):
        with conn.transaction():
            for at, p, action in items:
                if action is None:
                    row = conn.execute(sql.load("demo/insert_user"),
                                       {"email": p.email, "name": p.name, "at": at}).fetchone()
                    assert row is not None
                    p.user_id = int(str(row["id"]))
                    played.signups += 1
                else:
                    add_action(conn, p, action, at)
                    played.actions += 1
        played.days += 1
    return played


def add_action(conn: psycopg.Connection[dict[str, object]], p: Persona, action: str,
               at: datetime) -> None:
    conn.execute(sql.load("demo/insert_action"), {"user_id": p.user_id, "action": action, "at": at})


def returners(personas: list[Persona], n: int = RETURNERS) -> list[Persona]:
    return [p for p in personas if p.cohort == "dormant"][:n]
