"""What a job ships to the tasks: its module's source, its class name, extra files.

The cluster runner packs them into the submission; the Worker writes them into a
per-job folder where the task child imports the module (mapreduce/worker/loader.py);
the inline runner only resolves the extra files. Everything is bounded, since it
travels in one gRPC message.
"""
from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field

from minidfs.errors import InvalidArgument

MAX_SHIPPED_FILES = 64
MAX_SHIPPED_BYTES = 8 * 1024 * 1024


@dataclass
class JobPackage:
    module_name: str            # the name the module is imported under on the Workers
    module_file: str            # its file name, e.g. "wordcount.py"
    source: bytes
    class_name: str
    files: dict[str, bytes] = field(default_factory=dict)


def local_file_map(paths: list[str]) -> dict[str, str]:
    """Base name -> absolute path of each shipped file, refusing missing files and clashes."""
    if len(paths) > MAX_SHIPPED_FILES:
        raise InvalidArgument(f"at most {MAX_SHIPPED_FILES} files may be shipped with a job")
    found: dict[str, str] = {}
    for path in paths:
        name = os.path.basename(os.fspath(path))
        if not os.path.isfile(path):
            raise InvalidArgument(f"{path}: shipped file does not exist")
        if name in found and os.path.abspath(found[name]) != os.path.abspath(path):
            raise InvalidArgument(f"{path}: two shipped files are named {name}")
        found[name] = os.path.abspath(path)
    return found


def package(job_class: type, paths: list[str]) -> JobPackage:
    """The source module, class name and extra files of a job, for submission."""
    if "<locals>" in job_class.__qualname__ or "." in job_class.__qualname__:
        raise InvalidArgument(f"{job_class.__qualname__}: a cluster job class must be "
                              f"defined at the top level of its module")
    generated = getattr(job_class, "_shipped_module_", None)
    if generated is not None:
        # A class made at run time (a streaming job) brings the module that defines it.
        module_name, module_file, source = generated()
    else:
        module_name, module_file, source = _module_source(job_class)
    files = {}
    total = len(source)
    for name, path in local_file_map(paths).items():
        with open(path, "rb") as f:
            files[name] = f.read()
        total += len(files[name])
    if total > MAX_SHIPPED_BYTES:
        raise InvalidArgument(f"job source and files are {total} bytes; "
                              f"at most {MAX_SHIPPED_BYTES} may be shipped")
    return JobPackage(module_name, module_file, source, job_class.__name__, files)


def _module_source(job_class: type) -> tuple[str, str, bytes]:
    """(module name, file name, source) of the module that defines job_class."""
    module = sys.modules.get(job_class.__module__)
    source_file = inspect.getsourcefile(module) if module else None
    if not source_file or not os.path.isfile(source_file):
        raise InvalidArgument(f"{job_class.__qualname__}: cannot find the source of "
                              f"module {job_class.__module__}")
    module_file = os.path.basename(source_file)
    module_name = job_class.__module__
    if module_name == "__main__":
        module_name = os.path.splitext(module_file)[0]
    with open(source_file, "rb") as f:
        return module_name, module_file, f.read()
