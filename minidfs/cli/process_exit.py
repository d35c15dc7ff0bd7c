"""How a command-line process ends: flush what it printed, then os._exit.

Why not a normal interpreter exit: at exit Python finalizes objects while the daemon
threads it has frozen still hold their locks, and a gRPC call object found then by the
garbage collector (`_Rendezvous.__del__`) waits for its call's lock for ever. Seen as
`minidfs cat` printing the whole file and then never exiting (about 1 run in 300 with
two at once, py-spy: MainThread in gc_collect_main -> _Rendezvous.__del__ ->
Condition.__enter__). A command has nothing left to clean up once its output is out,
so it leaves the way task processes do. Used by the `minidfs` and `mapreduce` entry
points (`python -m ...` and the installed scripts), except `minidfs daemon`, which ends
through its own shutdown; CliRunner tests call the click groups directly.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

import click


def run_and_exit(command: click.Command, prog_name: str) -> NoReturn:
    """Runs a click command in standalone mode and ends the process with its code."""
    try:
        command.main(prog_name=prog_name)
        code = 0
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe (`| head`): nothing more to say
            pass
    os._exit(code)
