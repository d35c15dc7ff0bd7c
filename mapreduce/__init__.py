"""minidfs MapReduce: the job API, the engine, the JobTracker and the Workers.

    from mapreduce import Job
    class WordCount(Job): ...
    WordCount().run(input="/books", output="/wc", reducers=2)          # on the cluster
    WordCount().run(input="books/", output="wc/", runner="inline")     # in-process
"""
from __future__ import annotations

from mapreduce.job import Job
from mapreduce.result import JobResult
from mapreduce.steps import Step

__all__ = ["Job", "JobResult", "Step"]
