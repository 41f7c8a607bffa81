"""The CLI imports a command only when it runs (cli/main.py COMMANDS): the list `--help` prints
from COMMANDS must be what the commands say of themselves, and every command must be listed."""

from __future__ import annotations

import importlib
import pkgutil

import click

import skene_cdc.cli
from skene_cdc.cli.main import COMMANDS, cli


def _short(command: click.Command) -> str:
    return command.get_short_help_str(10**6)


def test_each_listed_line_is_the_commands_own() -> None:
    for name, (module, attribute, line) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), name
        assert _short(click.Command(name, help=line)) == _short(command), name
        assert command.name == name


def test_every_command_in_the_cli_package_is_listed() -> None:
    listed = {(module, attribute) for module, attribute, _ in COMMANDS.values()}
    found = set()
    for info in pkgutil.iter_modules(skene_cdc.cli.__path__):
        module = importlib.import_module(f"skene_cdc.cli.{info.name}")
        found |= {(module.__name__, attr) for attr, value in vars(module).items()
                  if isinstance(value, click.Command) and value is not cli
                  and value.callback is not None and value.callback.__module__ == module.__name__
                  and not any(value in g.commands.values() for g in vars(module).values()
                              if isinstance(g, click.Group) and g is not value)}
    assert found == listed, found ^ listed


def test_a_listed_command_resolves_and_shows_envvars() -> None:
    ctx = click.Context(cli)
    command = cli.get_command(ctx, "check")
    assert command is not None and command.name == "check"
    assert all(p.show_envvar for p in command.params if isinstance(p, click.Option))
    assert cli.get_command(ctx, "no-such-command") is None
