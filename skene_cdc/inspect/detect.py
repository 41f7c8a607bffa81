"""`init`'s heuristics: which table holds the users, which tables are their activity.

Every choice carries a reason, and every table passed over says why, so the generated skene.yaml
can explain itself and a person can correct it. Names are matched case-insensitively; types
decide (a `created_at` that is text is not a timestamp)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from skene_cdc.errors import SkeneError
from skene_cdc.inspect.catalog import Catalog, Column, Table
from skene_cdc.migrations.columns import secret_reason

USER_TABLE_NAMES = ("users", "user", "auth_user", "accounts_user", "app_user", "app_users",
                    "accounts", "account", "members", "member", "customers", "profiles")
EMAIL_COLUMNS = ("email", "email_address", "mail", "primary_email")
NAME_COLUMNS = ("full_name", "name", "display_name", "first_name", "given_name", "username",
                "user_name", "nickname", "login")
SIGNUP_COLUMNS = ("created_at", "date_joined", "inserted_at", "signup_at", "signed_up_at",
                  "created_on", "registered_at", "joined_at", "created", "date_created",
                  "creation_date", "createdat")
STRIPE_COLUMNS = ("stripe_customer_id", "stripe_customer", "stripe_id", "customer_id")
USER_REF_COLUMNS = ("user_id", "owner_id", "author_id", "created_by_id", "creator_id",
                    "created_by", "account_id", "member_id", "actor_id", "userid")
TIMESTAMP_COLUMNS = ("created_at", "occurred_at", "inserted_at", "timestamp", "created_on",
                     "created", "date_created", "creation_date", "performed_at", "happened_at",
                     "logged_at", "recorded_at", "action_time", "at", "time", "createdat")
# Time columns that say when something will happen or last changed, not when the user acted.
NOT_EVENT_TIME = re.compile(r"(updated|modified|deleted|expire|expires|valid_until|due|"
                            r"scheduled|last_login|archived|_until$)")
EVENT_COLUMNS = ("action_type", "event", "event_type", "event_name", "action", "activity_type")
# `type`/`kind`/`name` name the event only in tables that are event logs; in `projects`, `name`
# is the project's name and would make one event name per row.
EVENTISH_COLUMNS = ("type", "kind", "name", "verb")
EVENTISH_TABLE = re.compile(r"(event|action|activit|log|track|audit|histor)")
# Framework tables: Django's auth/admin/session tables, migration ledgers, task queues.
FRAMEWORK = re.compile(r"^(django_|auth_|authtoken_|celery_|django_celery_|social_auth_|"
                       r"oauth2_provider_|socialaccount_|otp_|axes_|silk_|knox_|"
                       r"account_email(address|confirmation)$|alembic_version$|"
                       r"schema_migrations$|flyway_schema_history$|knex_migrations|"
                       r"_prisma_migrations$|ar_internal_metadata$)")
SESSIONISH = re.compile(r"(^|_)(sessions?|tokens?|otps?|password_resets?|api_keys?|"
                        r"refresh_tokens?|verification_codes?|nonces?)($|_)")


@dataclass
class UsersChoice:
    table: Table
    id: str
    email: str
    name: str | None
    created_at: str | None
    stripe_customer_id: str | None
    reason: str
    notes: list[str] = field(default_factory=list)
    # (column, why) that init writes into `exclude:`: never copied into skene
    exclude: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ActivityChoice:
    table: Table
    user_id: str
    timestamp: str
    event: str | None
    reason: str
    exclude: list[tuple[str, str]] = field(default_factory=list)


def secret_columns(table: Table, mapped: list[str | None]) -> list[tuple[str, str]]:
    """The columns whose names look secret, with the word that says so; mapped ones stay."""
    out = []
    for name in table.columns:
        why = secret_reason(name)
        if why and name not in mapped:
            out.append((name, why))
    return out


@dataclass(frozen=True)
class Skipped:
    table: str
    reason: str


@dataclass
class Detection:
    users: UsersChoice
    activity: list[ActivityChoice]
    skipped: list[Skipped]
    stripe_elsewhere: list[str]


def _pick(table: Table, names: tuple[str, ...],
          test: Callable[[Column], bool] | None = None) -> Column | None:
    lower = {c.lower(): col for c, col in table.columns.items()}
    for n in names:
        col = lower.get(n)
        if col is not None and (test is None or test(col)):
            return col
    return None


def find_users(catalog: Catalog, explicit: str | None = None) -> UsersChoice:
    if explicit:
        table = _lookup(catalog, explicit)
        return _users_choice(catalog, table, f"chosen with --users-table {explicit}")
    scored: list[tuple[int, str, Table]] = []
    for t in catalog.tables.values():
        if _pick(t, EMAIL_COLUMNS, test=lambda c: c.is_text) is None:
            continue
        name = t.name.lower()
        score = len(catalog.incoming(t))
        if name in USER_TABLE_NAMES:
            score += 100 - USER_TABLE_NAMES.index(name)
        elif name.endswith(("_user", "_users")):
            score += 50
        elif score == 0:
            continue  # an email column alone (newsletter signups, invitations) is not enough
        scored.append((score, t.qualified, t))
    if not scored:
        raise SkeneError(
            "no users table found: no table has an email column and a users-like name "
            f"({', '.join(USER_TABLE_NAMES[:4])}, ...) or foreign keys pointing at it",
            hint="Pass --users-table SCHEMA.TABLE, or write app.users in skene.yaml by hand")
    scored.sort(key=lambda s: (-s[0], s[1]))
    best = scored[0][2]
    refs = len(catalog.incoming(best))
    reason = (f"has an email column and {refs} foreign "
              f"{'keys point' if refs != 1 else 'key points'} at it")
    return _users_choice(catalog, best, reason)


def _lookup(catalog: Catalog, name: str) -> Table:
    if name in catalog.tables:
        return catalog.tables[name]
    matches = [t for t in catalog.tables.values() if t.name == name]
    if len(matches) == 1:
        return matches[0]
    raise SkeneError(f"table {name!r} not found" if not matches else
                     f"table name {name!r} is ambiguous: "
                     + ", ".join(t.qualified for t in matches),
                     hint="Give it as SCHEMA.TABLE")


def _users_choice(catalog: Catalog, table: Table, reason: str) -> UsersChoice:
    notes: list[str] = []
    pk = table.primary_key
    if len(pk) == 1:
        ident = pk[0]
    elif "id" in table.columns:
        ident = "id"
    else:
        raise SkeneError(f"{table.qualified} has no single-column primary key and no `id` column",
                         hint="Write app.users.id in skene.yaml by hand")
    email = _pick(table, EMAIL_COLUMNS, test=lambda c: c.is_text)
    if email is None:
        raise SkeneError(f"{table.qualified} has no email column",
                         hint="Write app.users.email in skene.yaml by hand")
    name = _pick(table, NAME_COLUMNS, test=lambda c: c.is_text)
    if name is not None and name.name.lower() == "first_name" and "last_name" in table.columns:
        notes.append("name: first_name is used for greetings (the table also has last_name)")
    created = _pick(table, SIGNUP_COLUMNS, test=lambda c: c.is_time)
    if created is None:
        notes.append("no signup timestamp column found; created_at stays empty in skene.users")
    stripe = _pick(table, STRIPE_COLUMNS, test=lambda c: c.is_text)
    choice = UsersChoice(table, ident, email.name, name.name if name else None,
                         created.name if created else None, stripe.name if stripe else None,
                         reason, notes)
    choice.exclude = secret_columns(table, [choice.id, choice.email, choice.name,
                                            choice.created_at, choice.stripe_customer_id])
    return choice


def _user_ref(table: Table, users: UsersChoice) -> tuple[str, str] | None:
    fks = [fk.column for fk in table.foreign_keys
           if fk.ref_table == users.table.qualified and fk.ref_column == users.id]
    if fks:
        preferred = [c for c in USER_REF_COLUMNS if c in fks]
        ref = preferred[0] if preferred else sorted(fks)[0]
        return ref, f"{ref} references {users.table.qualified}"
    id_type = users.table.columns[users.id].type
    singular = users.table.name.lower().removesuffix("s")
    for name in ("user_id", f"{singular}_id", "userid"):
        col = table.columns.get(name)
        if col is not None and col.type == id_type:
            return col.name, (f"{col.name} matches {users.table.qualified}.{users.id} "
                              "(no foreign key)")
    return None


def _is_join_table(table: Table, fk_cols: set[str]) -> bool:
    if len(fk_cols) < 2:
        return False
    payload = [c for c in table.columns.values()
               if c.name not in fk_cols and not c.primary_key and not c.is_time]
    return not payload


def find_activity(catalog: Catalog, users: UsersChoice) -> tuple[list[ActivityChoice],
                                                                  list[Skipped]]:
    chosen: list[ActivityChoice] = []
    skipped: list[Skipped] = []
    for t in sorted(catalog.tables.values(), key=lambda t: t.qualified):
        if t.qualified == users.table.qualified:
            continue
        ref = _user_ref(t, users)
        if ref is None:
            continue
        user_col, why = ref
        name = t.name.lower()
        if FRAMEWORK.search(name):
            skipped.append(Skipped(t.qualified, "framework table (auth, admin, sessions, "
                                                "migrations), not user activity"))
            continue
        if SESSIONISH.search(name):
            skipped.append(Skipped(t.qualified, "sessions and tokens are not user activity"))
            continue
        if _is_join_table(t, {fk.column for fk in t.foreign_keys}):
            skipped.append(Skipped(t.qualified, "join table (only keys), not user activity"))
            continue
        ts = _pick(t, TIMESTAMP_COLUMNS,
                   test=lambda c: c.is_time and not NOT_EVENT_TIME.search(c.name.lower()))
        if ts is None:
            others = [c for c in t.columns.values()
                      if c.is_time and not NOT_EVENT_TIME.search(c.name.lower())]
            ts = others[0] if len(others) == 1 else None
        if ts is None:
            skipped.append(Skipped(t.qualified, f"{why}, but it has no creation-time column "
                                                "to date the activity"))
            continue
        event = _pick(t, EVENT_COLUMNS, test=lambda c: c.is_text)
        if event is None and EVENTISH_TABLE.search(name):
            event = _pick(t, EVENTISH_COLUMNS, test=lambda c: c.is_text)
        ev = event.name if event else None
        chosen.append(ActivityChoice(t, user_col, ts.name, ev, why,
                                     secret_columns(t, [user_col, ts.name, ev])))
    return chosen, skipped


def detect(catalog: Catalog, users_table: str | None = None) -> Detection:
    users = find_users(catalog, users_table)
    activity, skipped = find_activity(catalog, users)
    stripe_elsewhere = []
    if users.stripe_customer_id is None:
        for t in catalog.tables.values():
            col = _pick(t, STRIPE_COLUMNS[:3], test=lambda c: c.is_text)
            if col is not None and t is not users.table:
                stripe_elsewhere.append(f"{t.qualified}.{col.name}")
    return Detection(users, activity, skipped, sorted(stripe_elsewhere))
