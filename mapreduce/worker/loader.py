"""Imports a job's shipped module in a task process and returns the Job class.

Called by the task child (task.py) in its fresh process, after the Worker wrote the
package folder: the module is loaded from its file under the name it had on the
client (so pickled or printed names match), the package folder goes first on
sys.path (shipped helper modules import), and the submitter's pass_env values are
put into os.environ before the module runs.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import sys

from mapreduce.job import Job
from mapreduce.worker.layout import ENV_FILE
from minidfs.errors import JobError


def load_job_class(package: pathlib.Path, module_name: str, module_file: str,
                   class_name: str) -> type[Job]:
    env_path = package / ENV_FILE
    if env_path.exists():
        os.environ.update(json.loads(env_path.read_text(encoding="utf-8")))
    sys.path.insert(0, str(package))
    spec = importlib.util.spec_from_file_location(module_name, package / module_file)
    if spec is None or spec.loader is None:
        raise JobError(f"{module_file}: cannot load the job module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    job_class = getattr(module, class_name, None)
    if not (isinstance(job_class, type) and issubclass(job_class, Job)):
        raise JobError(f"{module_name}.{class_name}: not a mapreduce.Job subclass")
    return job_class
