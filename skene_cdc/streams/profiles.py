"""User profiles kept in a Redis hash (`app.users.redis_hash: "user:{id}"`) instead of, or as
well as, a SQL table. skene reads the hash's email and name fields (named by app.users.email and
app.users.name) when it addresses an email; everything skene itself keeps (events, plans,
enrolments, deliveries) still lives in PostgreSQL. Limits: SQL conditions and the skene.users
view cannot see hash-only fields."""

from __future__ import annotations

from typing import Any

import redis

from skene_cdc.config import Config


def hash_key(config: Config, user_id: str) -> str | None:
    pattern = config.app.users.redis_hash
    return pattern.replace("{id}", user_id) if pattern else None


def redis_profile(config: Config, r: redis.Redis, user_id: str) -> dict[str, Any]:
    """{user_id, email, name, ...all hash fields}; {} when there is no hash configured or found."""
    key = hash_key(config, user_id)
    if key is None:
        return {}
    fields: Any = r.hgetall(key)
    if not fields:
        return {}
    users = config.app.users
    profile: dict[str, Any] = {str(k): v for k, v in fields.items()}
    profile["user_id"] = user_id
    profile["email"] = fields.get(users.email) or fields.get("email")
    profile["name"] = fields.get(users.name or "name") or fields.get("name")
    return profile
