"""What every `minidfs` command shares: the error line, size flags, the lazy Client.

Used by the command modules in minidfs/cli/. A user error (a minidfs exception, a
local OSError, an unreachable cluster) becomes exactly one line on stderr,
`minidfs: <cmd>: <message>`, and exit status 1 — never a traceback; a change that
may have happened says so (`minidfs: mkdir: /q0: outcome unknown: ...`, exit 1;
docs/outcomes.md). Usage errors stay click's (exit status 2). While a call waits
for an active NameNode (after a second) one notice line goes to stderr first.
"""
from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import sys
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

import click

from minidfs import config, errors
from minidfs.sizes import parse_size

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
# A progress bar only for copies big enough to watch, and only on a terminal.
PROGRESS_MIN_BYTES = 16 * 1024 * 1024


class SizeType(click.ParamType):
    """A byte size flag: 64KiB, 1MiB, 128M, 4096."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        try:
            size = parse_size(value)
        except errors.InvalidArgument as e:
            self.fail(str(e), param, ctx)
        if size < 1:
            self.fail(f"{value}: must be at least 1 byte", param, ctx)
        return size


SIZE = SizeType()


class CliState:
    """Root options and the Client, made on first use and closed when the command ends."""

    def __init__(self, conf: str | None, home: str | None, user: str | None = None,
                 cert_dir: str | None = None) -> None:
        self.conf = conf
        self.home = home
        self.user = user
        self.cert_dir = cert_dir
        self._client: Any = None

    @property
    def conf_path(self) -> pathlib.Path:
        return config.find_conf(self.conf, self.home)

    def cluster_home(self, home: str | None) -> str | None:
        """The home a `cluster` subcommand acts on: its --home, the root's --home,
        the folder of the root's --conf, else $MINIDFS_HOME / ./.minidfs (None)."""
        if home or self.home:
            return home or self.home
        return str(pathlib.Path(self.conf).parent) if self.conf else None

    def client(self) -> Any:
        if self._client is None:
            from minidfs.client.client import Client

            path = self.conf_path
            if not path.exists():
                raise errors.ClusterError(
                    f"cluster not reachable at {path}: no cluster file "
                    "(start one with `minidfs cluster up`)")
            self._client = Client(conf=path, user=self.user, cert_dir=self.cert_dir)
            self._client.namenode.on_wait = _say_waiting()
            click.get_current_context().call_on_close(self._client.close)
        return self._client


WAITING_NOTICE = "waiting for an active NameNode… (Ctrl-C to stop)"


def _say_waiting() -> Callable[[], None]:
    """The NameNode client's on_wait for a command: the notice once, on stderr."""
    line = f"minidfs: {command_name(click.get_current_context())}: {WAITING_NOTICE}"
    said = threading.Event()   # the lease renewer's thread may wait too

    def say() -> None:
        if not said.is_set():
            said.set()
            click.echo(line, err=True)
    return say


def state() -> CliState:
    return click.get_current_context().find_object(CliState) or CliState(None, None)


def command_name(ctx: click.Context) -> str:
    parts = ctx.command_path.split()[1:]
    return " ".join(parts) or (ctx.info_name or "minidfs")


def describe(exc: BaseException, conf_path: pathlib.Path | None = None) -> str:
    """The one-line message for a user error."""
    import grpc

    if isinstance(exc, grpc.RpcError):
        from minidfs.rpc.status import from_rpc_error

        exc = from_rpc_error(exc)
    if isinstance(exc, errors.Unavailable) and not isinstance(exc, errors.StandbyError):
        message = f"cluster not reachable at {conf_path}: {exc}" if conf_path else str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        message = f"{where}: {exc.strerror.lower()}" if where != "" else exc.strerror.lower()
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split("\n")).strip()


def fail(message: str, code: int = EXIT_ERROR) -> None:
    ctx = click.get_current_context()
    click.echo(f"minidfs: {command_name(ctx)}: {message}", err=True)
    ctx.exit(code)


def _silence_stdout() -> None:
    # The reader went away (`minidfs cat x | head`): keep Python from complaining
    # again when it flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def reports_errors(func: F) -> F:
    """Turns user errors raised by a command into the one-line message + exit 1."""
    import grpc

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            _silence_stdout()
            click.get_current_context().exit(EXIT_ERROR)
        except KeyboardInterrupt as e:
            # A Ctrl-C while a change was out says its outcome is unknown (namenode_client);
            # a tree copy's says what it kept and removed (tree_copy.CopyInterrupted).
            fail(str(e) or "interrupted", EXIT_INTERRUPTED)
        except (errors.MinidfsError, OSError, grpc.RpcError) as e:
            fail(describe(e, state().conf_path))
    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress callback drawing on stderr, or None when stderr is not a terminal
    or the copy is small."""
    if total is None or total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


# A tree copy shows its line from this many files (or PROGRESS_MIN_BYTES) on.
TREE_PROGRESS_MIN_FILES = 100
TREE_PROGRESS_REDRAW_S = 0.1


class TreeProgress:
    """One line on stderr for a whole directory copy, redrawn in place:
    `put photos: 412/1000 files, 4.2/10.2 MB`. Thread-safe callers: tree_copy calls
    both callbacks under its own lock."""

    def __init__(self, label: str, total_files: int, total_bytes: int) -> None:
        self.label = label
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self._drawn_at = 0.0

    def add_bytes(self, n: int) -> None:
        self.bytes += n
        self._draw()

    def file_done(self, done: int, total: int) -> None:
        self.files, self.total_files = done, total
        self._draw(force=done == total)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn_at < TREE_PROGRESS_REDRAW_S:
            return
        self._drawn_at = now
        sys.stderr.write(f"\r{self.label}: {self.files}/{self.total_files} files, "
                         f"{self.bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


@contextlib.contextmanager
def tree_progress(files: int, size: int, label: str) -> Iterator[TreeProgress | None]:
    """A TreeProgress when stderr is a terminal and the tree is big enough, else None."""
    if not sys.stderr.isatty() or (files < TREE_PROGRESS_MIN_FILES and size < PROGRESS_MIN_BYTES):
        yield None
        return
    line = TreeProgress(label, files, size)
    try:
        yield line
    finally:
        line.finish()
