"""Read YAML while remembering the line of every value, and expand `${VAR}` from the environment.

Errors about config must name the file and line; pydantic only knows paths, so we keep a
path -> line map beside the plain data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from skene_cdc.errors import ConfigError

Path_ = tuple[str | int, ...]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def line_of(lines: Mapping[Path_, int], path: Path_) -> int | None:
    """Line of `path`, or of its nearest ancestor that has one (pydantic paths can run deeper)."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def load_yaml(text: str, filename: str, env: Mapping[str, str] | None = None) -> tuple[Any, dict[Path_, int]]:
    env = os.environ if env is None else env
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML ({problem})", where=where,
                          hint="Check indentation and quoting on that line") from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is None:
        return {}, lines

    def build(n: yaml.Node, path: Path_) -> Any:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in n.value:
                key = str(loader.construct_object(key_node))
                if key in out:
                    raise ConfigError(f"duplicate key {dotted(path + (key,))!r}",
                                      where=f"{filename}:{key_node.start_mark.line + 1}")
                out[key] = build(value_node, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, path + (i,)) for i, item in enumerate(n.value)]
        value = loader.construct_object(n)
        if isinstance(value, str):
            value = _interpolate(value, env, f"{filename}:{lines[path]}", path)
        return value

    return build(node, ()), lines


def _interpolate(value: str, env: Mapping[str, str], where: str, path: Path_) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise ConfigError(
                f"{dotted(path)} uses ${{{name}}} but the environment variable {name} is not set",
                where=where, hint=f"Export {name} before running skene-cdc, or write the value in place",
            )
        return env[name]

    return _VAR.sub(sub, value)
