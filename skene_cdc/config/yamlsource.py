"""Read YAML while remembering the line of every value, and expand `${VAR}` from the environment.

Errors about config must name the file and line; pydantic only knows paths, so we keep a
path -> line map beside the plain data.

The file is untrusted input: it is read only up to MAX_BYTES, must be UTF-8, and YAML aliases are
expanded into at most MAX_NODES values and MAX_DEPTH levels (a few hundred bytes of nested
aliases would otherwise expand into gigabytes), and an alias may not contain itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from skene_cdc.errors import ConfigError

Path_ = tuple[str | int, ...]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# A real skene.yaml is a few kilobytes and a few hundred values.
MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64


def read_config_file(path: Path) -> str:
    """The text of a config file, or a ConfigError naming the file (and line) and the fix."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", where=str(path),
                          hint="Check the path and its permissions (--config / SKENE_CONFIG)"
                          ) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"the config file is larger than {MAX_BYTES // 1024} KiB, which no "
                          "skene.yaml needs", where=str(path),
                          hint="Point --config / SKENE_CONFIG at your skene.yaml")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"the file is not UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                          f"{column})", where=f"{path}:{line}",
                          hint="Save skene.yaml as UTF-8") from None


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
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader refuses control characters right here
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise ConfigError(f"not valid YAML (character U+{exc.character:04X} is not allowed "
                          "in YAML)", where=f"{filename}:{line}",
                          hint="Remove the control character from that line") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML ({problem})", where=where,
                          hint="Check indentation and quoting on that line") from None
    except RecursionError:
        raise ConfigError("not valid YAML (nested too deeply)", where=filename,
                          hint=f"skene.yaml needs no more than {MAX_DEPTH} levels") from None
    except (ValueError, OverflowError) as exc:  # PyYAML's scanner: e.g. "\U99999999"
        at = f"{filename}:{loader.get_mark().line + 1}" if loader is not None else filename
        raise ConfigError(f"not valid YAML ({exc})", where=at,
                          hint="Check the escapes (\\x, \\u, \\U) in the quoted string on that "
                               "line") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[Path_, int] = {}
    if node is None:
        return {}, lines
    budget = [MAX_NODES]
    inside: set[int] = set()  # the nodes being built: one met again is an alias of itself

    def build(n: yaml.Node, path: Path_, line: int) -> Any:
        where = f"{filename}:{line}"
        if id(n) in inside:
            raise ConfigError(f"{dotted(path)} is an alias (*name) that contains itself",
                              where=where, hint="Replace the alias with the values it stands for")
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"the aliases (*name) expand to more than {MAX_NODES} values "
                              f"(at {dotted(path)})", where=where,
                              hint="Write the values out instead of nesting aliases")
        if len(path) > MAX_DEPTH:
            raise ConfigError(f"{dotted(path)} is nested more than {MAX_DEPTH} levels deep",
                              where=where, hint="skene.yaml needs a few levels; check the indentation")
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            inside.add(id(n))
            out: dict[str, Any] = {}
            for key_node, value_node in n.value:
                key_line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError(f"a key under {dotted(path)} is a list or mapping, not a "
                                      "name", where=f"{filename}:{key_line}",
                                      hint="Keys are plain names such as `table:`")
                key = str(_construct(loader, key_node, filename))
                if key in out:
                    raise ConfigError(f"duplicate key {dotted(path + (key,))!r}",
                                      where=f"{filename}:{key_line}")
                out[key] = build(value_node, path + (key,), key_line)
            inside.discard(id(n))
            return out
        if isinstance(n, yaml.SequenceNode):
            inside.add(id(n))
            items = [build(item, path + (i,), line) for i, item in enumerate(n.value)]
            inside.discard(id(n))
            return items
        value = _construct(loader, n, filename)
        if isinstance(value, str):
            value = _interpolate(value, env, f"{filename}:{lines[path]}", path)
        return value

    return build(node, (), node.start_mark.line + 1), lines


def _construct(loader: yaml.SafeLoader, node: yaml.Node, filename: str) -> Any:
    """A scalar's value; a tag YAML's safe loader does not know (`!!python/...`) is an error."""
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML ({problem})",
                          where=f"{filename}:{node.start_mark.line + 1}",
                          hint="Write plain values: strings, numbers, true/false, lists, "
                               "mappings") from None


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
