"""Multi-step jobs: `Job.steps()` returns a list of `Step`s, each step's output feeding
the next. Pure (no I/O): checking a plan and binding one step onto a task's job.

    class TopWords(Job):
        def steps(self):
            return [Step(mapper=self.count_words, combiner=self.sum, reducer=self.sum, reducers=2),
                    Step(mapper=self.to_one_key, reducer=self.top10, reducers=1)]

Each step runs as an ordinary job (mapreduce/multistep.py drives them); every task
attempt of step i makes a fresh instance and `Job._begin_task` binds step i onto it
here: its mapper, combiner, reducer, partitioner and hooks replace the class's. The
first step's mapper gets (offset, line) like any job's; a later step's mapper gets
the (key, value) pairs the step before it produced, with the types they had.

Between steps pairs travel as text lines `base64(msgpack(key))<TAB>base64(msgpack(value))`,
so the line reader splits them like any text and keys and values keep the types the
shuffle keeps (arrays come back as tuples in keys, lists in values). A step whose
output msgpack cannot carry fails with a message naming the step and the pair.
"""
from __future__ import annotations

import base64
import binascii
import inspect
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mapreduce import keys
from minidfs.errors import InvalidArgument, JobError

if TYPE_CHECKING:
    from mapreduce.job import Job

# How the cluster runner tells a step's tasks which step they run (an env var of
# the job package, like any pass_env value); the inline runner sets _step_index.
STEP_ENV = "MINIDFS_MR_STEP"
MAX_STEPS = 64
MAX_REDUCERS = 1000


class StepOutputError(JobError):
    """A step produced what the next step cannot be given; the message names both."""

    without_traceback = True


@dataclass(frozen=True)
class Step:
    """One map-reduce pass. reducers=None: the `reducers` given to run(). Methods left
    None are the identity (mapper, reducer) or absent (combiner, partitioner, hooks)."""

    mapper: Callable[..., Any] | None = None
    combiner: Callable[..., Any] | None = None
    reducer: Callable[..., Any] | None = None
    reducers: int | None = None
    partitioner: Callable[[Any, int], int] | None = None
    mapper_init: Callable[[], Any] | None = None
    mapper_final: Callable[[], Any] | None = None
    reducer_init: Callable[[], Any] | None = None
    reducer_final: Callable[[], Any] | None = None


_TWO_ARGS = {"mapper": "(key, value)", "combiner": "(key, values)",
             "reducer": "(key, values)", "partitioner": "(key, num_reducers)"}
_NO_ARGS = ("mapper_init", "mapper_final", "reducer_init", "reducer_final")


def checked_plan(job: "Job") -> list[Step] | None:
    """The job's steps, checked; None when it is a one-step job (no steps())."""
    plan = job.steps()
    if plan is None:
        return None
    if not isinstance(plan, (list, tuple)) or not plan or len(plan) > MAX_STEPS:
        raise InvalidArgument(f"steps() must return a list of 1 to {MAX_STEPS} Step, "
                              f"got {plan!r:.80}")
    for number, step in enumerate(plan, 1):
        where = f"step {number} of {len(plan)}"
        if not isinstance(step, Step):
            raise InvalidArgument(f"{where}: not a mapreduce.Step: {step!r:.80}")
        if step.reducers is not None and (type(step.reducers) is not int
                                          or not 0 <= step.reducers <= MAX_REDUCERS):
            raise InvalidArgument(f"{where}: reducers must be an int in [0, {MAX_REDUCERS}]")
        for role, args in _TWO_ARGS.items():
            _check_callable(where, role, getattr(step, role), 2, args)
        for role in _NO_ARGS:
            _check_callable(where, role, getattr(step, role), 0, "()")
    return list(plan)


def _check_callable(where: str, role: str, method: Any, count: int, args: str) -> None:
    if method is None:
        return
    if not callable(method):
        raise InvalidArgument(f"{where}: {role} is not callable: {method!r:.80}")
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return   # a builtin without a signature: its call will tell
    try:
        signature.bind(*([None] * count))
    except TypeError:
        name = getattr(method, "__name__", type(method).__name__)
        raise InvalidArgument(f"{where}: {role} {name}{signature} cannot be called "
                              f"with {args}") from None


def step_index(job: "Job") -> int:
    """Which step this task runs: set by the inline runner, else the job package's env."""
    if job._step_index is not None:
        return job._step_index
    value = os.environ.get(STEP_ENV, "0")
    if not value.isdigit():
        raise JobError(f"{STEP_ENV}={value!r}: not a step number")
    return int(value)


def bind(job: "Job", index: int) -> None:
    """Makes this task's job instance behave as step `index` of its plan."""
    plan = checked_plan(job)
    assert plan is not None
    if not 0 <= index < len(plan):
        raise JobError(f"step {index + 1}: the job has {len(plan)} steps")
    step = plan[index]
    from mapreduce.job import Job

    mapper = step.mapper or Job.mapper.__get__(job)
    job.mapper = mapper if index == 0 else _decoding(mapper)  # type: ignore[method-assign]
    job.mapper_batch = None     # a step maps with its own mapper
    job.combiner = step.combiner
    job.reducer = step.reducer or Job.reducer.__get__(job)  # type: ignore[method-assign]
    job.partitioner = step.partitioner
    for hook in _NO_ARGS:
        setattr(job, hook, getattr(step, hook) or _nothing)
    if index < len(plan) - 1:
        job.format_output = _encoder(index, len(plan))  # type: ignore[method-assign]


def _nothing() -> None:
    return None


def encode_pair(key: Any, value: Any, where: str = "step output") -> str:
    parts = []
    for name, obj in (("key", key), ("value", value)):
        try:
            packed = keys.pack_unchecked(obj)
        except (TypeError, ValueError, OverflowError) as e:
            raise StepOutputError(f"{where} {name} {obj!r:.80} cannot be passed to the next step "
                           f"(a step's output must be what msgpack carries: None, bool, "
                           f"int, float, str, bytes, lists, dicts): {e}") from None
        parts.append(base64.b64encode(packed).decode("ascii"))
    return "\t".join(parts)


def decode_pair(line: str) -> tuple[Any, Any]:
    key_text, tab, value_text = line.partition("\t")
    try:
        if not tab:
            raise ValueError("no tab")
        return (keys.unpack_key(base64.b64decode(key_text, validate=True)),
                keys.unpack_value(base64.b64decode(value_text, validate=True)))
    except (ValueError, binascii.Error) as e:
        raise StepOutputError(f"a step's input line is not a previous step's output "
                       f"({e}): {line!r:.80}") from None


def _encoder(index: int, total: int) -> Callable[[Any, Any], str]:
    where = f"step {index + 1} of {total}: output"

    def format_output(key: Any, value: Any) -> str:
        return encode_pair(key, value, where)

    return format_output


def _decoding(mapper: Callable[[Any, Any], Any]) -> Callable[[int, str], Any]:
    def mapper_of_pairs(offset: int, line: str) -> Any:
        key, value = decode_pair(line)
        return mapper(key, value)

    return mapper_of_pairs
