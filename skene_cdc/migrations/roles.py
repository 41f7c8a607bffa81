"""The capture role: a NOLOGIN role that owns `skene.capture()` and may only append to the
capture queue. The trigger runs with its rights, so app code reached on the way (a cast to json
the table owner defined) can do nothing a writer of the table could not. `migrate` keeps it in
place; `check` says when it is not (inspect/prereqs.py).

`uninstall` finds it as the owner of skene.capture() before dropping schema skene (`capture_owner`),
then drops it, like the reader role, unless another database still uses it (`drop_if_unused`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.errors import PrerequisiteError
from skene_cdc.migrations.capture import CaptureSpec, Plan


@dataclass(frozen=True)
class CaptureRoleState:
    role: str
    exists: bool
    powerless: bool
    owns_capture: bool
    granted: bool
    public_execute: bool

    @classmethod
    def read(cls, conn: psycopg.Connection[Row], role: str) -> CaptureRoleState:
        row = conn.execute(sql.load("roles/capture_state"), {"role": role}).fetchone()
        assert row is not None
        return cls(role, row["role_exists"], row["role_powerless"],
                   row["capture_owner"] == role, row["role_granted"], row["public_execute"])

    def problems(self) -> list[str]:
        out = []
        if not self.exists:
            out.append(f"the capture role {self.role} does not exist")
        elif not self.powerless:
            out.append(f"the capture role {self.role} can log in or holds a superuser-like "
                       "attribute; it should be NOLOGIN with no attributes")
        if self.exists and not self.owns_capture:
            out.append(f"skene.capture() is not owned by {self.role}: the trigger would run with "
                       "its owner's rights")
        if self.exists and not self.granted:
            out.append(f"{self.role} lacks INSERT on the capture queue: app writes would fail")
        if self.public_execute:
            out.append("PUBLIC may execute a function in schema skene")
        return out


def superuser_definers(conn: psycopg.Connection[Row]) -> list[str]:
    """skene functions that would run app code with superuser rights (must be none)."""
    return [f"{r['function']} (owner {r['owner']})"
            for r in conn.execute(sql.load("roles/definers"))]


def verify(conn: psycopg.Connection[Row], config: Config) -> None:
    """After `migrate`: refuse to leave a superuser-owned definer function behind."""
    bad = superuser_definers(conn)
    conn.commit()
    if bad:
        raise PrerequisiteError(
            "skene would leave SECURITY DEFINER functions owned by a superuser: "
            + ", ".join(bad),
            hint=f"They must belong to the capture role {config.roles.capture}; run "
                 "`skene-cdc migrate` again as a superuser or a role with CREATEROLE")


def plan_capture_role(conn: psycopg.Connection[Row], config: Config,
                      specs: Sequence[CaptureSpec], installed: bool) -> Plan:
    role = config.roles.capture
    plan = Plan()
    state = CaptureRoleState.read(conn, role) if installed else None
    if state is None or not (state.exists and state.owns_capture and state.granted):
        plan.add(f"capture role {role}: owns skene.capture(), may only append to the queue",
                 pgsql.SQL(sql.load("roles/capture_role")).format(role=pgsql.Literal(role)))
    if state is None or state.public_execute:
        plan.add("EXECUTE on skene's functions revoked from PUBLIC",
                 pgsql.SQL(sql.load("roles/revoke_public")))
    return plan


def capture_owner(conn: psycopg.Connection[Row]) -> tuple[str | None, list[str]]:
    """Before schema skene is dropped: the capture role to drop once it is gone (None when
    skene.capture() belongs to no role skene made), and what to say about one that is kept."""
    row = conn.execute(sql.load("roles/capture_owner")).fetchone()
    if row is None or row["not_skenes"]:
        return None, []
    if row["login"]:
        return None, [f"kept role {row['role']}: it owned skene.capture() but can log in, so it "
                      "is not only skene's capture role; drop it yourself if skene made it"]
    return str(row["role"]), []


def drop_if_unused(conn: psycopg.Connection[Row], name: str) -> str:
    """After schema skene is gone: drop one of skene's roles (capture or reader) unless another
    database still uses it. Never fails: says what was done, or why the role was kept."""
    places = [r["place"] for r in conn.execute(sql.load("roles/used_elsewhere"), {"role": name})]
    if places:
        return (f"kept role {name}: still used by {', '.join(places)} (drop it from the last "
                "database that uses it)")
    try:
        conn.execute(pgsql.SQL(sql.load("roles/drop_role")).format(role=pgsql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        return (f"kept role {name}: this role may not drop roles; as a superuser run "
                f"`DROP ROLE \"{name}\";`")
    except psycopg.errors.DependentObjectsStillExist as exc:
        held = "; ".join((exc.diag.message_detail or "").splitlines()) or str(exc)
        return (f"kept role {name}: it still holds what skene did not give it ({held}); revoke "
                f"or reassign those, then as a superuser run `DROP ROLE \"{name}\";`")
    return f"dropped role {name}"


def preflight(conn: psycopg.Connection[Row], config: Config) -> None:
    """Refuse before anything changes when this role cannot set skene's roles up: create the
    capture and reader roles, or make itself a member (to hand the capture role skene.capture(),
    and to run conditions as the reader). One message with every statement a DBA runs once."""
    needed: list[str] = []
    why: list[str] = []
    user = ""
    for key, name in (("capture", config.roles.capture), ("reader", config.roles.reader)):
        state = conn.execute(sql.load("roles/reader_state"), {"role": name}).fetchone()
        assert state is not None
        if state["user_is_superuser"]:
            conn.rollback()
            return
        user = state["user"]
        if not state["exists"] and not state["user_can_create_roles"]:
            needed.append(f'CREATE ROLE "{name}" NOLOGIN; GRANT "{name}" TO "{user}";')
            why.append(f"may not create the role {name} (roles.{key})")
        elif state["exists"] and not state["user_granted"] and not (
                state["user_can_create_roles"] or state["user_is_admin"]):
            needed.append(f'GRANT "{name}" TO "{user}";')
            why.append(f"is not a member of {name} (roles.{key}) and may not grant itself "
                       "membership")
    conn.rollback()
    if needed:
        raise PrerequisiteError(
            f"role {user} {' and '.join(why)}, so nothing was changed (skene's capture trigger "
            "belongs to the capture role; SQL conditions run as the reader role)",
            hint=f"As a superuser run `{' '.join(needed)}` once, then `skene-cdc migrate` "
                 f"again as {user}")

