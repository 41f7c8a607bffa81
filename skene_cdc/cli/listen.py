"""`skene-cdc listen`: the long-running process."""

from __future__ import annotations

from pathlib import Path

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, require_schema
from skene_cdc.listener.control import ControlChannel, name_this_process
from skene_cdc.runtime import services as runtime
from skene_cdc.runtime import supervisor


@click.command()
@click.option("--once", is_flag=True, help="Process everything pending and due, then exit.")
@pass_ctx
def listen(ctx: Ctx, once: bool) -> None:
    """Capture changes, evaluate loops, run schedules and send email until SIGTERM/SIGINT.

    A changed skene.yaml is picked up by itself (or on SIGHUP); an invalid one is refused with
    its error and the running config goes on."""
    config = ctx.config
    # Every session of this process says which listener it is: `status` tells a running
    # listener from a dead one by it, and `uninstall` asks running ones to stop.
    name_this_process()
    with connect(ctx.url) as conn:
        require_schema(conn)
    services = runtime.build_services(ctx.url, config)
    if once:
        done = runtime.drain_once(services)
        click.echo(", ".join(f"{name}: {n}" for name, n in done.items()))
        return
    url = ctx.url
    ok = supervisor.run_forever(
        services, reload=supervisor.Reload(Path(ctx.config_path),
                                           lambda cfg: runtime.build_services(url, cfg)),
        control=ControlChannel(url))
    if not ok:
        raise SystemExit(1)
