"""What `skene-cdc uninstall` removes from Redis: every key skene wrote there (the plan cache
`<prefix>plan:*`, the usage counters `<prefix>usage:*`, the usage stream `<prefix>usage`), and
skene's consumer groups on the app's own streams (the streams themselves are the app's)."""

from __future__ import annotations

import re

import redis

from skene_cdc.config import Config
from skene_cdc.freemium.meter import redis_config
from skene_cdc.freemium.rules import build_rules
from skene_cdc.streams.consumer import redact_redis

BATCH = 500


def remove_redis_keys(config: Config) -> str | None:
    """Remove skene's keys; a line saying what was done, or None when skene never used Redis."""
    if config.redis is None and not build_rules(config):
        return None
    rc = redis_config(config)
    where = redact_redis(rc.url)
    if not rc.key_prefix:
        return (f"left skene's Redis keys at {where}: redis.key_prefix is empty, so they cannot "
                "be told from the app's own; remove the plan:*, usage:* keys and the usage "
                "stream yourself")
    r = redis.Redis.from_url(rc.url, socket_timeout=5, socket_connect_timeout=5)
    try:
        removed = 0
        batch: list[bytes] = []
        for key in r.scan_iter(match=_glob_escape(rc.key_prefix) + "*", count=BATCH):
            batch.append(key)
            if len(batch) >= BATCH:
                removed += int(r.unlink(*batch))
                batch = []
        if batch:
            removed += int(r.unlink(*batch))
        groups = []
        for s in rc.streams:
            try:
                if r.xgroup_destroy(s.stream, s.group):
                    groups.append(f"{s.group!r} on stream {s.stream!r}")
            except redis.ResponseError:
                pass  # the stream or the group is not there: nothing of skene's to remove
    except redis.RedisError as exc:
        return (f"could not reach Redis at {where} to remove skene's keys ({exc}); remove the "
                f"keys matching {rc.key_prefix}* yourself")
    finally:
        r.close()
    line = f"removed skene's Redis keys ({rc.key_prefix}* at {where}): {removed} key(s)"
    if groups:
        line += "; consumer group " + ", ".join(groups) + " (the streams are the app's: kept)"
    return line


def _glob_escape(text: str) -> str:
    """SCAN MATCH is a glob: a prefix with *, ?, [ or \\ in it must match only itself."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
