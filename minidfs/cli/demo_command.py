"""`minidfs demo [--quick] [--home DIR] [--keep]`: the whole minidfs story in a minute or two.

Registered on the root group by minidfs/cli/main.py; the story itself is
cluster.demo.run_demo. This layer turns signals and errors into exit statuses: 0 when
every step worked, 1 with one line on stderr when one did not (the home with the
daemons' logs is kept and named), 130 on Ctrl-C and 143 on SIGTERM. In every case the
cluster is torn down first, unless --keep asked to leave a successful run's cluster up.
"""
from __future__ import annotations

import signal
import sys
from typing import Any

import click

from minidfs import errors
from minidfs.cli.common import EXIT_ERROR, EXIT_INTERRUPTED

EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so the same teardown runs."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


@click.command()
@click.option("--quick", is_flag=True,
              help="A smaller corpus and two Workers (about half a minute).")
@click.option("--home", type=click.Path(file_okay=False),
              help="Run the cluster in this (new or empty) folder and keep it; "
                   "default: a temporary folder, removed afterwards.")
@click.option("--keep", is_flag=True, help="Leave the cluster running at the end.")
def demo(quick: bool, home: str | None, keep: bool) -> None:
    """Start a local HA cluster, store and count a corpus, kill a DataNode and the
    active NameNode, count again, and tear everything down."""
    from cluster.demo import run_demo

    # Also when started with SIGINT ignored (a background job of a script): the
    # demo promises that Ctrl-C tears down, so it always listens.
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated),
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}
    try:
        outcome = run_demo(quick=quick, home=home, keep=keep)
    except _Terminated:
        click.echo("minidfs demo: terminated; the cluster was stopped", err=True)
        sys.exit(EXIT_TERMINATED)
    except KeyboardInterrupt:
        click.echo("minidfs demo: interrupted; the cluster was stopped", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (errors.MinidfsError, OSError) as e:
        click.echo(f"minidfs demo: {e}", err=True)
        sys.exit(EXIT_ERROR)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    where = "" if outcome.home is None else f"; its files are in {outcome.home}"
    state = "left running" if outcome.kept_running else "stopped"
    click.echo(f"\nDemo finished in {outcome.total_s:.0f} s: the cluster is {state}{where}.")
