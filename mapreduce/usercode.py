"""Calling the user's job code: checking what it yields and reporting its errors. Pure.

Used by the task code (map, combine, reduce loops), the inline runner and the Worker's
task child. A user method may be a generator, return an iterable of pairs, or return
None (it yielded nothing). A failure is reported with the traceback trimmed to start
at the user's code, so the engine frames that called it do not bury it.
"""
from __future__ import annotations

import pathlib
import traceback
from typing import Any, Callable, Iterable, Iterator

from minidfs.errors import JobError

_ENGINE_DIR = str(pathlib.Path(__file__).resolve().parent)


def pairs(produced: Iterable[Any] | None, who: str) -> Iterator[tuple[Any, Any]]:
    """The (key, value) pairs a user method produced, refusing anything else."""
    if produced is None:
        return
    check_iterable(produced, who)
    for item in produced:
        yield item if type(item) is tuple and len(item) == 2 else checked_pair(item, who)


def batch_mapper(job: Any) -> Callable[[list, list], Any] | None:
    """The job's mapper_batch(offsets, lines), or None when it maps line by line.
    JobError when the class defines both: which one runs would be a guess."""
    method = getattr(job, "mapper_batch", None)
    if method is None:
        return None
    from mapreduce.job import Job

    if type(job).mapper is not Job.mapper:
        raise JobError(f"{type(job).__name__} defines both mapper and mapper_batch: "
                       "define one of them")
    return method


def check_iterable(produced: Any, who: str) -> None:
    """Refuses what iterates but cannot be a sequence of pairs."""
    if isinstance(produced, (str, bytes, dict)):
        raise JobError(f"{who} must yield (key, value) pairs, it returned a {type(produced).__name__}")


def checked_pair(item: Any, who: str) -> tuple[Any, Any]:
    """(key, value) of an item that is not a plain 2-tuple: a 2-list or tuple subclass."""
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    raise JobError(f"{who} must yield (key, value) pairs, got {item!r:.80}")


def run_hook(hook: Callable[[], Any], emit: Callable[[Any, Any], None], who: str) -> None:
    """Runs mapper_init/final or reducer_init/final; what it yields is output."""
    for key, value in pairs(hook(), who):
        emit(key, value)


def user_traceback(exc: BaseException) -> str:
    """The exception's traceback without the engine frames that led into user code
    (only the message for an exception class marked `without_traceback`)."""
    if getattr(exc, "without_traceback", False):
        # An error whose message is the whole story (a streaming command's failure).
        return f"{type(exc).__name__}: {exc}"
    summary = traceback.TracebackException.from_exception(exc)
    frames = list(summary.stack)
    first_user = next((i for i, f in enumerate(frames) if not _in_engine(f.filename)), None)
    if first_user is not None:
        summary.stack = traceback.StackSummary.from_list(frames[first_user:])
    return "".join(summary.format()).rstrip("\n")


def _in_engine(filename: str) -> bool:
    try:
        return str(pathlib.Path(filename).resolve()).startswith(_ENGINE_DIR)
    except OSError:
        return False
