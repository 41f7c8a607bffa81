"""`skene-cdc init`: read the app's schema (read-only) and write a commented skene.yaml plus starter
email templates. Nothing is overwritten unless asked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import yaml
from pglast import keywords

from skene_cdc.db import connect
from skene_cdc.errors import SkeneError
from skene_cdc.inspect.catalog import Catalog, read_catalog
from skene_cdc.inspect.detect import ActivityChoice, Detection, detect

STARTERS = ("activation_welcome.html", "activation_welcome.txt", "re_engagement.html",
            "re_engagement.txt", "upgrade_prompt.html", "upgrade_prompt.txt")
_KEYWORDS = (set(keywords.RESERVED_KEYWORDS) | set(keywords.TYPE_FUNC_NAME_KEYWORDS)
             | set(keywords.COL_NAME_KEYWORDS))

FREEMIUM = """\
- name: freemium
  type: freemium
  opinion: Enforce usage limits for free tier users and trigger upgrade prompts
  steps:
    - trigger: {type: api, endpoint: "/api/features/*", method: POST}
      condition:
        type: usage
        limit: {free: 100, paid: .inf}
        period: 30d
      action:
        type: block
        message: "You've reached your free tier limit. Upgrade to continue."
        upgradeUrl: https://example.com/billing
        upgradePrompt:
          type: email
          template: upgrade_prompt
  recovery: {retries: 0}   # a block is answered at once; nothing to retry"""


@dataclass
class Inspection:
    catalog: Catalog
    detection: Detection


def inspect_database(url: str, *, schemas: list[str] | None = None,
                     users_table: str | None = None) -> Inspection:
    """Everything `init` needs, read in one READ ONLY transaction."""
    with connect(url) as conn:
        conn.read_only = True
        with conn.transaction():
            catalog = read_catalog(conn, schemas or None)
    if not catalog.tables:
        raise SkeneError(f"database {catalog.database!r} has no tables that {catalog.user!r} "
                         "can see" + (f" in schema {', '.join(schemas)}" if schemas else ""),
                         hint="Point DATABASE_URL at the app's database (after its own migrations "
                              "ran), or pass --schema")
    return Inspection(catalog, detect(catalog, users_table))


def sql_ident(name: str) -> str:
    """An identifier for SQL text: bare when it can be, quoted otherwise (`"user"`, `"Order"`)."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) and name not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def table_name(schema: str, table: str) -> str:
    """The name as skene.yaml spells it; resolved with to_regclass(), where keywords need no
    quotes but upper case does."""
    def part(p: str) -> str:
        return p if re.fullmatch(r"[a-z_][a-z0-9_$]*", p) else '"' + p.replace('"', '""') + '"'
    return f"{part(schema)}.{part(table)}"


def yaml_scalar(value: str) -> str:
    """A YAML scalar that reads back as `value`: plain when safe, quoted otherwise."""
    dumped = yaml.safe_dump(value, width=10_000, default_flow_style=True).strip()
    return dumped.removesuffix("...").strip()


def _activation(detection: Detection) -> tuple[str, str | None, str | None]:
    """(query, table shown in the hint, example narrowing) for the activation condition."""
    if not detection.activity:
        return ("SELECT user_id FROM skene.users WHERE user_id = $1::text "
                "AND first_seen_at IS NOT NULL", None, None)
    ranked: list[ActivityChoice] = sorted(
        detection.activity, key=lambda a: (a.event is None, a.table.qualified))
    a = ranked[0]
    uid = sql_ident(a.user_id)
    col_type = a.table.columns[a.user_id].type
    select = uid if a.user_id == "user_id" else f"{uid} AS user_id"
    tbl = f"{sql_ident(a.table.schema)}.{sql_ident(a.table.name)}"
    query = f"SELECT {select} FROM {tbl} WHERE {uid} = $1::{col_type} LIMIT 1"
    hint = (f"AND {sql_ident(a.event)} = 'first_project_created'" if a.event
            else "with a WHERE clause on one of its columns")
    return query, a.table.qualified, hint


def render_config(inspection: Inspection, *, templates: str = "templates", stripe: bool = False,
                  redis: bool = False) -> str:
    catalog, det = inspection.catalog, inspection.detection
    env = jinja2.Environment(
        variable_start_string="<<", variable_end_string=">>", block_start_string="<%",
        block_end_string="%>", comment_start_string="<#", comment_end_string="#>",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False)
    template = env.from_string(
        resources.files("skene_cdc.inspect").joinpath("skene.yaml.j2").read_text("utf-8"))
    u = det.users
    query, activation_table, hint = _activation(det)
    freemium = stripe or redis
    block = "\n".join(("  " + line) if freemium else ("  # " + line).rstrip()
                      for line in FREEMIUM.splitlines())
    example = det.activity[0].table.name if det.activity else "user_actions"
    text = template.render(
        wal_level=catalog.wal_level,
        users={"table_name": yaml_scalar(table_name(u.table.schema, u.table.name)),
               "id": yaml_scalar(u.id), "email": yaml_scalar(u.email),
               "name": u.name and yaml_scalar(u.name),
               "created_at": u.created_at and yaml_scalar(u.created_at),
               "stripe_customer_id": u.stripe_customer_id and yaml_scalar(u.stripe_customer_id),
               "reason": u.reason, "notes": u.notes, "exclude": _exclude(u.exclude),
               "last_login": next((c for c in u.table.columns if c.lower() == "last_login"),
                                  None)},
        stripe_elsewhere=det.stripe_elsewhere,
        activity=[{"table_name": yaml_scalar(table_name(a.table.schema, a.table.name)),
                   "user_id": yaml_scalar(a.user_id), "timestamp": yaml_scalar(a.timestamp),
                   "event": a.event and yaml_scalar(a.event), "reason": a.reason,
                   "exclude": _exclude(a.exclude)}
                  for a in det.activity],
        skipped=det.skipped, example_event=f"{example}.insert", templates=yaml_scalar(templates),
        activation_query=yaml_scalar(query), activation_table=activation_table,
        activation_hint=hint, freemium=freemium, freemium_block=block, stripe=stripe,
        redis=redis)
    return text


def _exclude(columns: list[tuple[str, str]]) -> dict[str, str] | None:
    """The `exclude:` line's flow list and the comment above it saying why, or None."""
    if not columns:
        return None
    return {"list": "[" + ", ".join(yaml_scalar(c) for c, _ in columns) + "]",
            "why": "; ".join(f"{c}: {why}" for c, why in columns)}


def starter_templates() -> dict[str, str]:
    folder = resources.files("skene_cdc.inspect").joinpath("starter")
    return {name: folder.joinpath(name).read_text("utf-8") for name in STARTERS}


def plan_files(config_path: Path, config_text: str, templates: str) -> dict[Path, str]:
    files = {config_path: config_text}
    folder = config_path.parent / templates
    for name, text in starter_templates().items():
        files[folder / name] = text
    return files


def write_files(files: dict[Path, str], *, force: bool) -> list[Path]:
    """All or nothing: if any file exists and `force` is not set, nothing is written."""
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise SkeneError("not overwriting existing files: " + ", ".join(map(str, existing)),
                         hint="Pass --force to replace them, --output to write elsewhere, or "
                              "--stdout to print the config")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
